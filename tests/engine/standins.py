"""Stand-in images for a private engine that cannot pull: one folder per pinned image under standins/, named
as the catalog pins it (postgres:17.2-alpine lives in standins/postgres/17.2-alpine/), built FROM a Debian base
made here with debootstrap, and tagged with the pinned name so generated projects run unchanged.

Each folder holds a Dockerfile (FROM ${BASE}), the files it copies, and standin.yml: the image it stands in for
and its compromises, what differs from the real image. Images are cached by content: a stand-in is rebuilt only
when its folder or the base changes.

The base trusts the CA bundle the host's pip and npm use, so that builds behind a TLS-intercepting proxy reach
PyPI and npm: harness plumbing, never part of a generated project.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker.errors
import yaml

from .engine import Engine, EngineError, engine_dir

STANDINS = Path(__file__).resolve().parent / "standins"
STANDIN_FILE = "standin.yml"
DIGEST_LABEL = "org.stacks.standin.digest"

BASE_IMAGE = "stacks-standin/debian"
BASE_SUITE = "bookworm"
BASE_MIRROR = os.environ.get("STACKS_DEBIAN_MIRROR", "http://deb.debian.org/debian")
BUNDLE_IN_BASE = "/usr/local/share/ca-certificates/stacks-harness-host-bundle.crt"
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
DEBOOTSTRAP_ATTEMPTS = 3
# pip and Node.js read their own CA lists unless told; update-ca-certificates adds the host bundle to the system's.
BASE_ENV = {"PIP_CERT": SYSTEM_BUNDLE, "NODE_EXTRA_CA_CERTS": SYSTEM_BUNDLE}


@dataclass(frozen=True)
class Built:
    image: str
    seconds: float
    cached: bool


def standin_folder(image: str) -> Path:
    repository, tag = image.rsplit(":", 1)
    return STANDINS.joinpath(*repository.split("/"), tag)


def all_standins() -> dict[str, Path]:
    """Every stand-in folder, by the image name its standin.yml gives."""
    found = {}
    for spec in sorted(STANDINS.rglob(STANDIN_FILE)):
        found[str(yaml.safe_load(spec.read_text())["image"])] = spec.parent
    return found


def missing_standins(images: Iterable[str]) -> list[str]:
    return [image for image in images if not (standin_folder(image) / "Dockerfile").exists()]


def host_ca_bundle() -> Path:
    """The CA bundle the host's pip and npm trust (they are configured with one of these)."""
    for variable in ("PIP_CERT", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    return Path(SYSTEM_BUNDLE)


def _digest(parts: Iterable[bytes]) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:24]


def folder_digest(folder: Path, base_id: str) -> str:
    def parts() -> Iterable[bytes]:
        yield base_id.encode()
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            yield path.relative_to(folder).as_posix().encode()
            yield b"x" if os.access(path, os.X_OK) else b"-"
            yield path.read_bytes()
    return _digest(parts())


def _labelled(engine: Engine, image: str, digest: str) -> str | None:
    """The id of `image` if it exists in the engine and was built from the content with this digest."""
    try:
        found = engine.client.images.get(image)
    except docker.errors.ImageNotFound:
        return None
    return found.id if (found.labels or {}).get(DIGEST_LABEL) == digest else None


def base_image(engine: Engine) -> tuple[str, Built]:
    """The Debian base (debootstrap --variant=minbase), imported once and kept while its recipe is unchanged."""
    bundle = host_ca_bundle()
    digest = _digest([BASE_SUITE.encode(), BASE_MIRROR.encode(), bundle.read_bytes(), repr(BASE_ENV).encode()])
    tag = f"{BASE_IMAGE}:{BASE_SUITE}-{digest}"
    start = time.monotonic()
    try:
        engine.client.images.get(tag)
        return tag, Built(tag, time.monotonic() - start, cached=True)
    except docker.errors.ImageNotFound:
        pass
    debootstrap = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin")
    if not debootstrap:
        raise EngineError("debootstrap is not installed: run apt-get install -y debootstrap (make test does it "
                          "when run as root)")
    work = engine_dir() / "base"
    rootfs = work / "rootfs"
    log = engine_dir() / "debootstrap.log"  # every attempt's output, kept for a look after a failure
    log.write_text("")
    try:
        for attempt in range(1, DEBOOTSTRAP_ATTEMPTS + 1):
            remove_tree(work)
            rootfs.mkdir(parents=True)
            result = subprocess.run([debootstrap, "--variant=minbase", BASE_SUITE, str(rootfs), BASE_MIRROR],
                                    capture_output=True, text=True, timeout=1200, stdin=subprocess.DEVNULL)
            own_log = rootfs / "debootstrap" / "debootstrap.log"
            output = result.stdout + result.stderr + (own_log.read_text(errors="replace") if own_log.exists() else "")
            with log.open("a") as kept:
                kept.write(f"--- attempt {attempt}: exit {result.returncode}\n{output}\n")
            if result.returncode == 0:
                break
            if attempt == DEBOOTSTRAP_ATTEMPTS:
                raise EngineError(f"debootstrap {BASE_SUITE} from {BASE_MIRROR} failed {attempt} times (set "
                                  f"STACKS_DEBIAN_MIRROR to another mirror); the last lines, all in {log}:\n"
                                  f"{output[-2500:]}")
            time.sleep(5 * attempt)  # a mirror that did not answer this once
        for target in (rootfs / BUNDLE_IN_BASE.lstrip("/"), rootfs / SYSTEM_BUNDLE.lstrip("/")):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(bundle, target)
        archive = work / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(archive), "."], check=True, timeout=600)
        changes = [f"ENV {key}={value}" for key, value in BASE_ENV.items()]
        changes += ['ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'CMD ["bash"]']
        repository, tag_name = tag.split(":")
        engine.client.api.import_image_from_file(str(archive), repository=repository, tag=tag_name, changes=changes)
    finally:
        remove_tree(work)
    return tag, Built(tag, time.monotonic() - start, cached=False)


def remove_tree(folder: Path) -> None:
    """Remove `folder`, first unmounting what a failed debootstrap left mounted in it (its /proc, /sys), so that
    nothing outside it is ever touched."""
    if not folder.exists():
        return
    inside = str(folder.resolve()) + "/"
    mounts = [line.split()[1].replace("\\040", " ") for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if m.startswith(inside)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", mount], capture_output=True, timeout=60)
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    if any(m.startswith(inside) for m in mounts):
        raise EngineError(f"cannot unmount what is mounted under {folder}: unmount it (see /proc/mounts), then "
                          "delete the folder")
    shutil.rmtree(folder, ignore_errors=True)
    if folder.exists():
        raise EngineError(f"cannot delete {folder} ({', '.join(p.name for p in folder.iterdir())} left): delete it, "
                          "then run again")


def build_standin(engine: Engine, image: str, base: str) -> Built:
    folder = standin_folder(image)
    base_id = engine.client.images.get(base).id
    digest = folder_digest(folder, base_id)
    start = time.monotonic()
    if _labelled(engine, image, digest):
        return Built(image, time.monotonic() - start, cached=True)
    log = io.StringIO()
    try:
        # The engine's classic builder: stand-in Dockerfiles use nothing that needs BuildKit.
        for chunk in engine.client.api.build(path=str(folder), tag=image, buildargs={"BASE": base},
                                             labels={DIGEST_LABEL: digest}, rm=True, forcerm=True, decode=True):
            log.write(chunk.get("stream", ""))
            if "error" in chunk:
                raise EngineError(f"the stand-in for {image} ({folder}) does not build: {chunk['error']}\n"
                                  + log.getvalue()[-3000:])
    except docker.errors.APIError as error:
        raise EngineError(f"the stand-in for {image} ({folder}) does not build: {error}") from None
    return Built(image, time.monotonic() - start, cached=False)


def build_standins(engine: Engine, images: Iterable[str]) -> list[Built]:
    """The base and a stand-in for each of `images` (built two at a time), cached by content."""
    images = list(dict.fromkeys(images))
    if missing := missing_standins(images):
        raise EngineError("no stand-in for " + ", ".join(missing) + ": add a folder per image, e.g. "
                          + str(standin_folder(missing[0]).relative_to(STANDINS.parents[1])) + "/ with a Dockerfile and "
                          + STANDIN_FILE + " (see tests/engine/standins.py)")
    engine_dir().mkdir(parents=True, exist_ok=True)
    with open(engine_dir() / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time on this machine; the next finds them cached
        base, built = base_image(engine)
        with ThreadPoolExecutor(max_workers=2) as pool:
            return [built, *pool.map(lambda image: build_standin(engine, image, base), images)]
