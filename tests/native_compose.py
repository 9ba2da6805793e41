"""Plays `docker compose` for .stacks/backup.sh on this machine (tests/test_backups.py): each service of the stack is
a local server, described in the JSON file NATIVE_COMPOSE_SERVICES names: its environment (as its container has
it), its working directory (where its volume is), and the shell commands that stop and start it. Only the calls
backup.sh makes: ps --status running --quiet, exec -T, stop, run --rm --no-deps -T --entrypoint sh, up --wait."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

TAKES_A_VALUE = {"--status", "--entrypoint"}


def main(argv: list[str]) -> int:
    services = json.loads(Path(os.environ["NATIVE_COMPOSE_SERVICES"]).read_text())
    command, *rest = argv
    words, positional, entrypoint = iter(rest), [], None
    for word in words:
        if word in TAKES_A_VALUE:
            value = next(words)
            entrypoint = value if word == "--entrypoint" else entrypoint
        elif word.startswith("-") and not positional:
            continue
        else:
            positional.append(word)
    name, *arguments = positional
    if name not in services:
        print(f"native_compose: no service {name}", file=sys.stderr)
        return 1
    service = services[name]
    env = {**os.environ, **service["env"], "PATH": os.pathsep.join([*service.get("path", []), os.environ["PATH"]])}

    def shell(script: str) -> int:
        return subprocess.run(["sh", "-c", script], env=env, cwd=service["dir"], check=False).returncode

    if command == "ps":
        print(f"native-{name}")
        return 0
    if command in ("exec", "run"):
        program = [entrypoint, *arguments] if entrypoint else arguments
        return subprocess.run(program, env=env, cwd=service["dir"], check=False).returncode
    if command == "stop":
        return shell(service["stop"])
    if command == "up":
        return shell(service["start"])
    print(f"native_compose: {command} is not played here", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
