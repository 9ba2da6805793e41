"""Migration to 0.2.0, run by every update (it acts only where there is something to migrate, so it works
between untagged commits too, whose versions copier cannot order): the .env keys of host ports end in _HOST_PORT (FASTAPI_PORT became FASTAPI_HOST_PORT),
so that a key says which side of the port mapping it sets; and every container runs as a non-root user.

--stage=before (run by copier update before it renders 0.2.0): renames the keys in .env in place, values and
everything else kept, so the service keeps its port. --stage=after: names the files that still use an old key,
and says how to hand Redis' data, which 0.1.0 wrote as root, to the user Redis now runs as.
Imports nothing beyond the standard library.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

# The host-port keys of 0.1.0, the last version that wrote them.
RENAMED = {f"{name}_PORT": f"{name}_HOST_PORT" for name in ("FASTAPI", "REACT", "POSTGRES", "REDIS", "NGINX")}
KEY = re.compile(r"^([ \t]*(?:export[ \t]+)?)([A-Za-z_][A-Za-z0-9_]*)([ \t]*=)")


def say(message: str) -> None:
    print(f"stacks: {message}", file=sys.stderr)


def rename_in_env(env: Path) -> list[str]:
    """Rename the old keys of .env whose new name is not there already; return "OLD -> NEW" for each."""
    if not env.exists():
        return []
    lines = env.read_text(encoding="utf-8").splitlines(keepends=True)
    present = {m.group(2) for line in lines if (m := KEY.match(line))}
    renamed = []
    for index, line in enumerate(lines):
        match = KEY.match(line)
        if match and match.group(2) in RENAMED and RENAMED[match.group(2)] not in present:
            new = RENAMED[match.group(2)]
            lines[index] = f"{match.group(1)}{new}{line[match.end(2):]}"
            renamed.append(f"{match.group(2)} -> {new}")
    if renamed:
        mode = env.stat().st_mode & 0o777
        fd = os.open(env, os.O_WRONLY | os.O_TRUNC, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as file:
            file.write("".join(lines))
    return renamed


def files_using_old_keys(project_dir: Path) -> list[str]:
    """Files, outside .env, that still name an old key: your own additions, which the update did not rename."""
    pattern = re.compile(r"\b(?:" + "|".join(RENAMED) + r")\b")
    found = []
    for path in sorted(project_dir.rglob("*")):
        parts = path.relative_to(project_dir).parts
        if not path.is_file() or path.name == ".env" or {".git", ".venv", "node_modules"} & set(parts):
            continue
        try:
            if pattern.search(path.read_text(encoding="utf-8")):
                found.append(path.relative_to(project_dir).as_posix())
        except (UnicodeDecodeError, OSError):
            continue
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stage", choices=("before", "after"), required=True)
    args = parser.parse_args(argv)
    project_dir = Path.cwd()
    if args.stage == "before":
        if renamed := rename_in_env(project_dir / ".env"):
            say(f"0.2.0 names host ports *_HOST_PORT: renamed in .env {', '.join(renamed)}; values kept")
            if (project_dir / "services/redis/compose.yaml").exists():
                # 0.1.0, whose keys these were, started redis-server through sh as root: its append-only file
                # in the volume belongs to root.
                say("Redis now runs as uid 999, and the data 0.1.0 wrote in its volume belongs to root. If you ran "
                    "the stack before, give the data to Redis once, before make up: docker compose run --rm "
                    "--no-deps --user 0:0 --cap-add CHOWN --cap-add DAC_OVERRIDE --entrypoint chown redis -R "
                    "999:1000 /data")
        return 0
    if found := files_using_old_keys(project_dir):
        say(f"these files still use a host-port key that 0.2.0 renamed ({', '.join(RENAMED)} are now "
            f"*_HOST_PORT): {', '.join(found)}. Rename the keys there, or compose reads them as unset.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
