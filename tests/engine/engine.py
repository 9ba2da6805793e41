"""The container engine the harness runs stacks in.

The machine's own Docker engine when it answers and can pull the pinned images (a laptop, a hosted CI): the
real images run. Otherwise a private dockerd, started here with its own socket, data root and pid file under a
cache folder, and stopped by its pid when the last user of it is done: the stand-in images of standins/ run
there under the pinned names, so generated compose files and Dockerfiles run unchanged.

STACKS_ENGINE=host or STACKS_ENGINE=private chooses instead of detecting; STACKS_ENGINE_DIR moves the cache
folder (default ~/.cache/stacks/engine).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import docker
import docker.errors
from projects import compose_binary

KINDS = ("host", "private")
START_TIMEOUT = 60
STOP_TIMEOUT = 60


class EngineError(RuntimeError):
    """No engine can run the stacks here; the message names the fix."""


def engine_dir() -> Path:
    configured = os.environ.get("STACKS_ENGINE_DIR")
    if configured:
        return Path(configured)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stacks" / "engine"


@dataclass
class Engine:
    kind: str                      # "host": real images; "private": stand-ins
    client: docker.DockerClient
    env: dict[str, str]            # what compose and make need to reach it (DOCKER_HOST, DOCKER_CONFIG)
    compose: list[str]
    pinned_images: list[str] = field(default_factory=list)

    @property
    def uses_standins(self) -> bool:
        return self.kind == "private"

    def environment(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def run_compose(self, project: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([*self.compose, *args], cwd=project, env=self.environment(), capture_output=True,
                              text=True, timeout=timeout)


# --- the machine's own engine --------------------------------------------------------------------------------

def host_engine(pinned_images: list[str]) -> Engine | None:
    """The machine's Docker engine, if it answers and has, or can pull, every pinned image."""
    try:
        client = docker.from_env(timeout=30)
        client.ping()
    except Exception:  # noqa: BLE001 - no engine, or none we may use: the private one is next
        return None
    for image in pinned_images:
        try:
            client.images.get(image)
        except docker.errors.ImageNotFound:
            try:
                client.images.pull(image)
            except docker.errors.APIError:
                return None  # no registry: stand-ins, which must not shadow real images in this engine
    return Engine("host", client, {}, [str(compose_binary())], pinned_images)


# --- a private dockerd --------------------------------------------------------------------------------------

class PrivateDaemon:
    """dockerd on its own socket, data root and pid file under `folder`, shared by every harness process of the
    machine: each registers itself under users/, and the last one to leave stops the daemon by its pid."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.socket = folder / "docker.sock"
        self.pid_file = folder / "dockerd.pid"
        self.log = folder / "dockerd.log"
        self.users = folder / "users"
        self.user = self.users / f"{os.getpid()}.{id(self)}"  # one per join, so a process may join twice
        # The compose CLI plugin and no one's credentials: a config folder of the harness's own.
        self.config = folder / "docker-config"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if _alive(pid) else None

    def answers(self) -> bool:
        try:
            docker.DockerClient(base_url=self.host, timeout=5).ping()
            return True
        except Exception:  # noqa: BLE001
            return False

    def start(self) -> None:
        dockerd = shutil.which("dockerd") or shutil.which("dockerd", path="/usr/sbin:/usr/bin")
        if not dockerd:
            raise EngineError("dockerd is not installed: run apt-get install -y docker.io (make test does it when "
                              "run as root), or start a Docker engine that can pull images")
        if os.geteuid() != 0:
            raise EngineError("a private dockerd needs root: run make test as root, or start a Docker engine "
                              "that can pull images (DOCKER_HOST)")
        for stale in (self.socket, self.pid_file):
            stale.unlink(missing_ok=True)
        command = [dockerd, "--host", self.host, "--data-root", str(self.folder / "data"),
                   "--exec-root", str(self.folder / "exec"), "--pidfile", str(self.pid_file)]
        with open(self.log, "ab") as log:
            subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while not self.answers():
            if time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace").splitlines()[-15:]
                raise EngineError(f"dockerd did not answer within {START_TIMEOUT} s; its log ({self.log}) ends:\n"
                                  + "\n".join(tail))
            time.sleep(0.5)

    def stop(self) -> None:
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.5)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def join(self) -> None:
        with self.locked():
            self.users.mkdir(exist_ok=True)
            self.user.touch()
            if not (self.pid() and self.answers()):
                self.stop()
                self.start()
            plugins = self.config / "cli-plugins"
            plugins.mkdir(parents=True, exist_ok=True)
            link = plugins / "docker-compose"
            if not link.is_symlink() or link.resolve() != compose_binary().resolve():
                link.unlink(missing_ok=True)
                link.symlink_to(compose_binary())

    def leave(self) -> None:
        with self.locked():
            self.user.unlink(missing_ok=True)
            others = [u for u in self.users.iterdir() if u.name.split(".")[0].isdigit() and _alive(int(u.name.split(".")[0]))]
            if not others:
                self.stop()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child that exited) counts as gone.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z":
            return False
    return True


@contextlib.contextmanager
def open_engine(pinned_images: list[str], kind: str | None = None) -> Iterator[Engine]:
    """The engine to run stacks in (see the module's docstring); a private daemon is stopped afterwards unless
    another harness process still uses it."""
    kind = kind or os.environ.get("STACKS_ENGINE") or "auto"
    if kind not in (*KINDS, "auto"):
        raise EngineError(f"STACKS_ENGINE={kind}: use host, private or auto")
    if kind in ("host", "auto"):
        engine = host_engine(pinned_images)
        if engine:
            yield engine
            return
        if kind == "host":
            raise EngineError("STACKS_ENGINE=host, but the Docker engine (DOCKER_HOST or the default socket) does "
                              "not answer or cannot pull the pinned images: start it, or unset STACKS_ENGINE")
    daemon = PrivateDaemon(engine_dir())
    daemon.join()
    try:
        client = docker.DockerClient(base_url=daemon.host, timeout=600)
        env = {"DOCKER_HOST": daemon.host, "DOCKER_CONFIG": str(daemon.config)}
        yield Engine("private", client, env, [str(compose_binary())], pinned_images)
    finally:
        daemon.leave()
