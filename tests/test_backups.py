"""make backup and make restore (.stacks/backup.sh, from each datastore's `backup` in its component.yml) work for
real, on this machine: the generated script runs its components' own dump, check and restore commands against
the local servers (tests/native_compose.py plays docker compose): data written -> backup -> the data destroyed ->
restore -> the same data is back. The engine harness does the same in containers (tests/test_engine.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from projects import CATALOG, REPO, answers_for, copy_project, free_port, with_requirements
from test_apps import LOCAL_SERVERS

NATIVE_COMPOSE = Path(__file__).resolve().parent / "native_compose.py"
STAMP = re.compile(r"^\d{8}T\d{6}Z$")
# Components whose backup runs in the engine harness only, and why not here too.
ENGINE_ONLY = {
    "valkey": "this machine has no valkey-server",
    "rabbitmq": "importing definitions would change the machine's shared RabbitMQ, which other tests use",
    "minio": "this machine has no MinIO: its stream (bucket-backup.sh) is tested below against the stand-in only",
}


@dataclass
class NativeService:
    """A local server playing a service: its environment, the folder of its data, how to stop, start, destroy."""
    env: dict[str, str]
    dir: Path
    stop: str = "true"
    start: str = "true"
    destroy: list[list[str]] = field(default_factory=list)
    path: list[str] = field(default_factory=list)


@contextlib.contextmanager
def native_postgres(tmp_path: Path) -> Iterator[NativeService]:
    server, name = LOCAL_SERVERS["postgresql"], f"stacks_backup_{secrets.token_hex(6)}"
    server.create(name)
    try:
        yield NativeService({"POSTGRES_USER": "postgres", "POSTGRES_DB": name, "POSTGRES_PASSWORD": ""}, tmp_path,
                            destroy=[["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--force", name],
                                     ["createdb", "-h", "127.0.0.1", "-U", "postgres", name]])
    finally:
        server.drop(name)


@contextlib.contextmanager
def native_mariadb(tmp_path: Path) -> Iterator[NativeService]:
    server, name = LOCAL_SERVERS["mysql"], f"stacks_backup_{secrets.token_hex(6)}"
    server.create(name)
    try:
        yield NativeService({"MARIADB_USER": "root", "MARIADB_DATABASE": name, "MARIADB_PASSWORD": "",
                             "MARIADB_ROOT_PASSWORD": ""}, tmp_path,
                            destroy=[["mariadb", "--protocol=tcp", "-h", "127.0.0.1", "-u", "root", "-e",
                                      f"DROP DATABASE `{name}`; CREATE DATABASE `{name}`"]])
    finally:
        with contextlib.suppress(AssertionError):
            server.drop(name)


@contextlib.contextmanager
def native_redis(tmp_path: Path) -> Iterator[NativeService]:
    """A Redis of its own, started as the service starts it (a password, the append-only file), on a free port;
    redis-cli and redis-server on PATH are told that port, as 6379 is the container's."""
    port, password, data, shims = free_port(), secrets.token_hex(12), tmp_path / "data", tmp_path / "bin"
    data.mkdir()
    shims.mkdir()
    for program, option in (("redis-cli", f"-p {port}"), ("redis-server", "")):
        real = shutil.which(program)
        arguments = f'{option} "$@"' if option else f'"$@" --port {port}'
        (shims / program).write_text(f"#!/bin/sh\nexec {real} {arguments}\n")
        (shims / program).chmod(0o755)
    start = (f"{shims}/redis-server --requirepass \"$REDIS_PASSWORD\" --appendonly yes --dir {data} --daemonize yes "
             f"&& until REDISCLI_AUTH=\"$REDIS_PASSWORD\" {shims}/redis-cli ping 2>/dev/null | grep -q PONG; do sleep 0.1; done")
    stop = f"REDISCLI_AUTH=\"$REDIS_PASSWORD\" {shims}/redis-cli shutdown >/dev/null"
    service = NativeService({"REDIS_PASSWORD": password}, data, stop=stop, start=start, path=[str(shims)],
                            destroy=[["sh", "-c", f"{stop} && rm -rf {data}/* && {start}"]])
    environment = {**os.environ, "REDIS_PASSWORD": password}
    subprocess.run(["sh", "-c", start], env=environment, check=True, timeout=30)
    try:
        yield service
    finally:
        subprocess.run(["sh", "-c", stop], env=environment, check=False, timeout=30)


NATIVE = {"postgres": native_postgres, "mariadb": native_mariadb, "redis": native_redis}
BACKED_UP = [c.name for c in CATALOG.components.values() if c.backup]


def test_every_datastore_with_a_backup_is_restored_for_real_here_or_in_the_engine() -> None:
    assert set(BACKED_UP) == set(NATIVE) | set(ENGINE_ONLY), "add the component to NATIVE, or to ENGINE_ONLY with why"
    from test_engine import BACKUP_STACKS
    in_engine = {n for names in BACKUP_STACKS.values() for n in names}
    assert set(BACKED_UP) <= in_engine, f"not in test_engine.BACKUP_STACKS: {sorted(set(BACKED_UP) - in_engine)}"


def run_steps(steps: list[dict], service: NativeService, token: str) -> str:
    """A round trip's exec steps (component.yml), run here with the service's environment; their output."""
    env = {**os.environ, **service.env, "PATH": os.pathsep.join([*service.path, os.environ["PATH"]])}
    output = ""
    for step in steps:
        command = [part.replace("{token}", token) for part in step["exec"]]
        result = subprocess.run(command, env=env, cwd=service.dir, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"{command}: {result.stdout}{result.stderr}"
        output += result.stdout
    return output


def backup_script(project: Path, service_name: str, service: NativeService, tmp_path: Path):
    """Runs the project's .stacks/backup.sh with native_compose.py as its docker compose."""
    services = tmp_path / "services.json"
    services.write_text(json.dumps({service_name: {"env": service.env, "dir": str(service.dir), "stop": service.stop,
                                                   "start": service.start, "path": service.path}}))

    def run(*args: str, keep: int = 7) -> subprocess.CompletedProcess:
        env = {**os.environ, "COMPOSE": f"{sys.executable} {NATIVE_COMPOSE}", "NATIVE_COMPOSE_SERVICES": str(services),
               "BACKUPS": str(tmp_path / "backups"), "BACKUP_KEEP": str(keep)}
        return subprocess.run(["sh", str(project / ".stacks/backup.sh"), *args], cwd=project, env=env,
                              capture_output=True, text=True, timeout=300)
    return run


def backups(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "backups"
    return sorted(p for p in folder.iterdir() if STAMP.match(p.name)) if folder.exists() else []


@pytest.mark.parametrize("name", list(NATIVE))
def test_data_destroyed_after_a_backup_is_back_after_restore(name: str, tmp_path: Path) -> None:
    component = CATALOG.components[name]
    project = copy_project(tmp_path / "project", answers_for(with_requirements([name]), project_name="Backups"))
    trip = next(t for t in component.round_trips if t.get("write"))
    with NATIVE[name](tmp_path) as service:
        script = backup_script(project, name, service, tmp_path)
        run_steps(trip["write"], service, "kept-by-the-backup")

        made = script("backup")
        assert made.returncode == 0, made.stderr
        [folder] = backups(tmp_path)
        assert sorted(p.name for p in folder.iterdir()) == sorted(["SHA256SUMS", component.backup["file"]])
        assert f"make backup: saved {folder}" in made.stderr

        for command in service.destroy:
            destroyed = subprocess.run(command, env={**os.environ, **service.env}, capture_output=True, text=True,
                                       timeout=60)
            assert destroyed.returncode == 0, destroyed.stderr
        assert "kept-by-the-backup" not in _read(trip, service), "destroying the data left the value"

        restored = script("restore")
        assert restored.returncode == 0, restored.stderr
        assert f"restored {name} from {folder}" in restored.stderr
        assert "kept-by-the-backup" in (answer := _read(trip, service)), answer
        assert len(backups(tmp_path)) == 2, "restore saved the data as it was first"

        # a damaged file is refused before anything is touched
        run_steps(trip["write"], service, "written-after")
        damaged = folder / component.backup["file"]
        damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
        refused = script("restore", str(folder))
        assert refused.returncode != 0 and f"{folder} is damaged" in refused.stderr, refused.stderr
        assert "written-after" in (answer := _read(trip, service)), answer

        time.sleep(1)  # a new second: backups are named by it
        pruned = script("backup", keep=1)
        assert pruned.returncode == 0, pruned.stderr
        assert len(backups(tmp_path)) == 1 and "BACKUP_KEEP=1 keeps the newest 1" in pruned.stderr

        # the backup restored is never the one its safety backup prunes, however its folder is named
        [kept] = backups(tmp_path)
        time.sleep(1)
        given = f"{kept.parent}/./{kept.name}"
        again = script("restore", f"{given}/", keep=1)
        assert again.returncode == 0, again.stderr
        assert kept in backups(tmp_path) and f"restored {name} from {given}\n" in again.stderr, again.stderr


def _read(trip: dict, service: NativeService) -> str:
    try:
        return run_steps(trip["read"], service, "")
    except AssertionError as error:  # the table went with the data: a read without the value too
        return str(error)


# --- MinIO's bucket stream -----------------------------------------------------------------------------------------
# bucket-backup.sh (the image's: component.yml's dump, check and restore call it) run here under dash and bash, with
# the MinIO stand-in's Python `minio` and `mc` (tests/engine/standins/...) in place of MinIO's: the real server and
# mc run it in the engine harness only (test_engine.BACKUP_STACKS).

BUCKET_BACKUP = REPO / "template" / "services" / "minio" / "bucket-backup.sh"
MINIO_STANDIN = REPO.joinpath("tests", "engine", "standins", *CATALOG.components["minio"].image.replace(":", "/")
                              .split("/"))
SHELLS = [shell for shell in ("dash", "bash") if shutil.which(shell)]
# keys mc's JSON escapes every way Go writes them (\n, \t, \u0001, \u003c, \u2028), and content types mc's
# --attr must be given quoted (; = and ")
OBJECTS = {
    "plain.txt": ("text/plain", b"kept-by-the-backup\n"),
    "a folder/with spaces.json": ("application/json; charset=utf-8", b'{"a": 1}'),
    "new\nline & <tag>\tt\u2028\x01 \u00e9t\u00e9 \u6587\u4ef6 \U0001f600\n": ('multipart/mixed; boundary="b=1;"',
                                                                    bytes(range(256)) * 40),
    "empty": ("application/octet-stream", b""),
    "-dash and 'quote'": ("image/png", b"\n\n\x00\n"),
}


@dataclass
class StandinMinio:
    env: dict[str, str]

    def mc(self, *args: str, data: bytes | None = None) -> bytes:
        result = subprocess.run(["mc", *args], input=data, env=self.env, capture_output=True, timeout=60,
                                check=False)
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout

    def script(self, shell: str, action: str, data: bytes | None = None) -> subprocess.CompletedProcess:
        return subprocess.run([shell, str(BUCKET_BACKUP), action], input=data, env=self.env, capture_output=True,
                              timeout=120, check=False)

    def objects(self) -> dict[str, tuple[str, bytes]]:
        """The bucket's objects: key -> (content type, bytes), read with mc."""
        found = {}
        for line in self.mc("ls", "--recursive", "--json", "stack/files/").decode().splitlines():
            key = json.loads(line)["key"]
            stat = json.loads(self.mc("stat", "--no-list", "--json", f"stack/files/{key}"))
            found[key] = (stat["metadata"]["Content-Type"], self.mc("cat", f"stack/files/{key}"))
        return found

    def put(self, objects: dict[str, tuple[str, bytes]]) -> None:
        for key, (kind, body) in objects.items():
            quoted = '"' + kind.replace('"', '"\'"\'"') + '"'
            self.mc("pipe", "--attr", f"Content-Type={quoted}", f"stack/files/{key}", data=body)


@pytest.fixture
def standin_minio(tmp_path: Path) -> Iterator[StandinMinio]:
    """The stand-in's minio on a free port, its bucket files made, and an `mc` on PATH that calls the stand-in's
    with that port where bucket-backup.sh names the container's (127.0.0.1:9000)."""
    port, shims = free_port(), tmp_path / "bin"
    shims.mkdir()
    (shims / "mc").write_text(
        "#!/bin/sh\nfor a; do shift; [ \"$a\" = http://127.0.0.1:9000 ] && a=http://127.0.0.1:" + str(port)
        + '; set -- "$@" "$a"; done\n' + f'exec {sys.executable} {MINIO_STANDIN / "mc"} "$@"\n')
    (shims / "mc").chmod(0o755)
    env = {**os.environ, "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}", "MC_CONFIG_DIR": str(tmp_path / "mc"),
           "MINIO_ROOT_USER": "stacks", "MINIO_ROOT_PASSWORD": secrets.token_hex(12), "MINIO_BUCKET": "files",
           "TMPDIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, str(MINIO_STANDIN / "minio"), "server", str(tmp_path / "data"),
                               "--address", f"127.0.0.1:{port}", "--console-address", f"127.0.0.1:{free_port()}"],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        minio = StandinMinio(env)
        for _ in range(100):
            if subprocess.run(["mc", "alias", "set", "stack", "http://127.0.0.1:9000", env["MINIO_ROOT_USER"],
                               env["MINIO_ROOT_PASSWORD"]], env=env, capture_output=True, check=False).returncode == 0:
                break
            time.sleep(0.1)
        minio.mc("mb", "stack/files")
        yield minio
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.parametrize("shell", SHELLS)
def test_minio_bucket_stream_brings_back_every_object_and_only_those(shell: str, standin_minio: StandinMinio) -> None:
    standin_minio.put(OBJECTS)
    dumped = standin_minio.script(shell, "dump")
    assert dumped.returncode == 0, dumped.stderr.decode()
    assert dumped.stdout.startswith(b"stacks-minio-bucket 1\n") and dumped.stdout.endswith(b"\nend 5\n")
    checked = standin_minio.script(shell, "check", dumped.stdout)
    assert checked.returncode == 0, checked.stderr.decode()

    # after the backup: one object deleted, one changed, one made; restore puts the bucket back as it was
    standin_minio.mc("rm", "stack/files/plain.txt")
    standin_minio.put({"empty": ("text/html", b"changed"), "written after/the backup": ("text/plain", b"gone")})
    restored = standin_minio.script(shell, "restore", dumped.stdout)
    assert restored.returncode == 0, restored.stderr.decode()
    assert standin_minio.objects() == OBJECTS
    again = standin_minio.script(shell, "dump")
    assert again.stdout == dumped.stdout, "a second dump differs from the first"


@pytest.mark.parametrize("shell", SHELLS)
def test_minio_bucket_stream_of_an_empty_bucket_empties_it(shell: str, standin_minio: StandinMinio) -> None:
    dumped = standin_minio.script(shell, "dump")
    assert dumped.returncode == 0 and dumped.stdout == b"stacks-minio-bucket 1\nend 0\n", dumped.stderr.decode()
    assert standin_minio.script(shell, "check", dumped.stdout).returncode == 0
    standin_minio.put({"made later": ("text/plain", b"x")})
    restored = standin_minio.script(shell, "restore", dumped.stdout)
    assert restored.returncode == 0, restored.stderr.decode()
    assert standin_minio.objects() == {}


@pytest.mark.parametrize("shell", SHELLS)
def test_minio_bucket_stream_check_refuses_damage(shell: str, standin_minio: StandinMinio) -> None:
    standin_minio.put(OBJECTS)
    stream = standin_minio.script(shell, "dump").stdout
    first_body = stream.index(b"\n", len("stacks-minio-bucket 1\n")) + 1
    damaged = {
        "cut at the end line": stream[:-4],
        "cut inside an object": stream[:first_body + 3],
        "cut after the header": stream[:first_body],
        "cut inside a header": stream[:first_body - 5],
        "without its end line": stream[:stream.rindex(b"end 5")],
        "an object shorter than its header says": stream.replace(b"object 19 ", b"object 18 ", 1),
        "an object longer than its header says": stream.replace(b"object 19 ", b"object 20 ", 1),
        "a count that is not the objects'": stream.replace(b"end 5", b"end 4"),
        "bytes after the end": stream + b"x",
        "a header that is not base64": stream.replace(b"object 19 dGV4", b"object 19 d*V4", 1),
        "another format": stream.replace(b"stacks-minio-bucket 1", b"stacks-minio-bucket 2"),
        "nothing": b"",
    }
    assert b"object 19 dGV4" in stream, "the damage below is made to plain.txt's header: 19 bytes, text/plain"
    for what, data in damaged.items():
        refused = standin_minio.script(shell, "check", data)
        assert refused.returncode != 0, f"check passed a stream {what}"
        assert b"bucket-backup: " in refused.stderr, refused.stderr
    # restore reads nothing but a backup's first line before it empties the bucket
    assert standin_minio.script(shell, "restore", b"not a backup\n").returncode != 0
    assert set(standin_minio.objects()) == set(OBJECTS)
