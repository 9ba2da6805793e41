"""The component catalog: one folder per component under template/services/, described by its component.yml.

Loading checks every file, so a template author learns about a mistake (a typo'd key, an unpinned image, a
capability nobody provides) from a message that names the file and the fix, not from a broken project.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

CATALOG_DIR = Path(__file__).resolve().parent.parent / "template" / "services"
CATEGORIES_FILE = "categories.yml"
NOT_IN_CATALOG_FILE = "not-in-catalog.yml"
COMPONENT_FILE = "component.yml"
NONE = "none"

# libyaml's loader when PyYAML has it: reading the catalog is most of what the extension adds to a copy.
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

COMPONENT_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
VARIABLE_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
VARIABLE_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# repository[:port]/path:tag with a tag that names a version (a digit in it), never "latest".
PINNED_IMAGE = re.compile(r"^[a-z0-9][a-z0-9._/:-]*:(?!latest$)[A-Za-z0-9_.-]*[0-9][A-Za-z0-9_.-]*$")

COMPONENT_KEYS = {
    "label", "category", "summary", "keywords", "image", "build_image", "datastore",
    "ports", "env", "provides", "requires", "needs", "uses", "routes", "runtime", "ci", "build_from", "tls",
    "volatile", "round_trips", "health_checks", "verified", "tests", "name_is_a_word", "kubernetes", "backup",
    "scrapes", "job", "service", "processes", "runs_jobs",
}
REQUIRED_COMPONENT_KEYS = {"label", "category", "summary", "keywords", "image"}
# service: false — a component with no container of its own (a DuckDB file): what it is lives in what it provides
# (a volume its consumers mount, their environment). Its fragment holds only that volume; it has none of these.
SERVICE_KEYS = {"image", "build_image", "build_from", "ports", "runtime", "round_trips", "health_checks", "job",
                "ci", "tests", "routes", "scrapes", "tls", "volatile", "kubernetes", "processes", "runs_jobs"}
# provides.<capability>.per_consumer: true — each consumer gets one of its own (a database and user named after it);
# in the capability's env, {consumer} stands for the consumer's name as an identifier (my_app) and {CONSUMER} for it
# in upper case, so ${{CONSUMER}_DATABASE_PASSWORD} is a variable the consumer declares itself
CONSUMER_NAME = re.compile(r"\{(consumer|CONSUMER)\}")
OF_CONSUMER = re.compile(r"\$\{[A-Za-z0-9_]*\{(?:consumer|CONSUMER)\}[A-Za-z0-9_]*\}")  # ${{CONSUMER}_PASSWORD}
# provides.<capability>.volume: a named volume (the provider's fragment declares it) that every service wired to the
# capability mounts at `mount`; read_only: true mounts it read-only (a reader of the warehouse), unless the service
# is wired to it another way too
VOLUME_KEYS = {"name", "mount", "read_only"}
VOLUME_NAME = re.compile(r"^[a-z][a-z0-9-]*$")
VARIABLE_KEYS = {"help", "value", "secret", "lists_hosts", "for"}
CATEGORY_KEYS = {"label", "multiselect", "default", "keywords", "name_is_a_word", "automatic", "keyword_default",
                 "capability", "keywords_beside"}
BACKUP_KEYS = {"file", "dump", "check", "restore", "stopped"}
# a file a component.yml names (a backup, alert rules, a dashboard): lower case, with a suffix saying its format
FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9.-]*\.[a-z0-9]+$")

# The runtime posture of every service, unless its component.yml says otherwise under `runtime:`. Every
# service also gets no-new-privileges, cap_drop ALL and rotated logs: json-file, or the stack's log collector's
# driver (see Stack.runtime_yaml).
RUNTIME_DEFAULTS: dict[str, Any] = {
    "user": None,          # "uid:gid" it runs as (the image's own USER for a built one); the chart needs it
    "read_only": True,
    "tmpfs": ["/tmp"],
    "cap_add": {},         # capability -> why the service needs it
    "memory": "256m",
    "cpus": 0.5,
    "restart": "unless-stopped",
    "exceptions": {},      # posture rule -> why this service cannot meet it
}
# Rules a component may be excused from, with a reason that the fragment shows and tests/test_posture.py reads.
POSTURE_RULES = ("read_only", "non_root", "healthcheck")
# provides.<capability>.log_driver: the Docker logging driver with which every service of a stack with this component
# sends it its output (Stack.logging), to the container port provides.<capability>.port of its own ports.
LOG_DRIVERS = ("gelf",)
# A port is tcp unless it says udp (a datagram listener); the host port is allocated as for tcp, from the same numbers.
PORT_PROTOCOLS = ("tcp", "udp")
RESTART_POLICIES = ("no", "always", "on-failure", "unless-stopped")
NUMERIC_USER = re.compile(r"^[0-9]+(?::[0-9]+)?$")
MEMORY = re.compile(r"^[1-9][0-9]*[kmg]$")
CAPABILITY = re.compile(r"^[A-Z][A-Z_]*$")


# The generated GitHub Actions workflow, as data: a component with tests names its toolchain (the setup action;
# the version comes from build_image's tag, or from ci.version where the tag names only the product's, as
# apache/superset:6.1.0 does) and the make targets of its folder; a datastore describes the
# throwaway server that the CI job of each component wired to it gets, and the TEST_* variables pointing there.
CI_TOOLCHAINS = ("python", "node")
CI_KEYS = {"toolchain", "targets", "service", "version"}
# test_env_as: the TEST_* variables that hold only where a job is wired to the server for that capability
# (Redis as the broker of a worker, beside its cache). command: the arguments the image must run with, which a
# job's service container cannot be given: the workflow starts such a server with `docker run` in a step instead.
CI_SERVICE_KEYS = {"env", "port", "health", "test_env", "test_env_as", "command"}

# What proves in a container engine that a component works (tests/engine/ runs them): round trips, each a list of
# steps that write and then read, through the reverse proxy where one routes the component. A `read` runs again
# after the stack is taken down and up, so data and passwords must survive. A step is an HTTP request to the
# component ("GET /items/{item}") or a command in its container (exec: [argv]); {token} is unique to each run,
# and `keep` saves fields of a JSON answer under names that later steps use the same way.
ROUND_TRIP_KEYS = {"name", "when", "write", "read"}
EXEC_TIMEOUT_MAX = 600
# timeout: seconds a request may take (default 15), or a command (default 120, at most 600: a DAG run waited for),
# for one that waits on purpose (a task's result); headers: the
# request's own; expect_headers: a part of the value of each response header named; repeat: send it this many
# times at once (up to 200 in parallel), passing when one answer meets the step's checks (a rate limit's 429);
# body_size: a body of that many bytes instead of json (an upload limit's 413); body: a text sent as the raw body
# instead of json (a file uploaded, Content-Type from headers, else application/octet-stream). A step may instead be
# {check: <capability>}: the steps the provider of the round trip's `when` declares under provides.<it>.check, run
# at that provider with this trip's values (the mail a backend sent is in Mailpit's inbox). A scraper's step may be
# {targets_up: <path>}: its targets API (Prometheus's /api/v1/targets, asked inside its container on its http port)
# lists every scrape target the stack gives it as up, within a minute. An exec step with `from: <capability>` (the
# round trip's `when`) runs in the container of that capability's provider instead: for an image with no command
# to run (FROM scratch), whose service another container of the stack reaches by name. A job's step is
# {run: [args]}: `docker compose run --rm <job> args` (a job has no running container to exec in), with contains.
STEP_KEYS = {"request", "exec", "run", "json", "status", "expect", "contains", "keep", "timeout", "headers",
             "expect_headers", "repeat", "body_size", "body", "from"}
REQUEST = re.compile(r"^(GET|HEAD|POST|PUT|PATCH|DELETE) /\S*$")
# How a component was shown to run (the README's catalog table says it): in the engine harness with the real
# images, with the stand-ins of tests/engine/standins/, or only natively (its own tests, no container).
VERIFIED = ("real-image", "stand-in", "native-only")


class CatalogError(ValueError):
    """A catalog file is wrong; the message names the file and the fix."""


@dataclass(frozen=True)
class Port:
    env: str
    container: int
    host: tuple[int, ...]
    help: str
    http: str | None = None  # the path that answers 200 when the service on this port works (make smoke)
    link: str = "/"          # the page a person opens, which the project's README links to
    local_only: str | None = None  # why it is published on 127.0.0.1 only (a UI without a login)
    protocol: str = "tcp"          # udp for a datagram listener (a GELF log collector): published as <port>/udp


@dataclass(frozen=True)
class Variable:
    name: str
    help: str
    value: str = ""
    secret: bool = False
    lists_hosts: bool = False  # its value lists the host names the service answers to: the chart adds the Ingress's
    # for: a capability of its component: the variable is in the stack (.env, compose) only where a service is wired to
    # that capability (PostgreSQL's warehouse database and user, where a pipeline uses it as its warehouse)
    only_for: str | None = None


@dataclass(frozen=True)
class Runtime:
    user: str | None
    read_only: bool
    tmpfs: tuple[str, ...]
    cap_add: dict[str, str]
    memory: str
    cpus: float
    restart: str
    exceptions: dict[str, str]


@dataclass(frozen=True)
class Absent:
    """A technology people ask for that the catalog lacks, and the component it offers instead."""
    name: str
    label: str
    category: str  # or "none"
    closest: str   # a component name, or "none"
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class Category:
    name: str
    label: str
    multiselect: bool
    default: str
    keywords: tuple[str, ...]
    name_is_a_word: bool = False  # a word of other meanings ("worker", "broker"): only its keywords ask for it
    # never asked: a component of it joins the stack by itself where the stack has what it requires and a component
    # that wants what it provides (a database's metrics exporter, where Prometheus scrapes metrics)
    automatic: bool = False
    # the component the category's own words choose ("monitoring": Prometheus) where its default is none, since
    # an empty description must not bring it; "" for its default, else its first component
    keyword_default: str = ""
    # what each of its components provides: a mention of the category is met by a component named in the description
    # that provides it too ("a data warehouse on PostgreSQL"); "" where the category is no capability
    capability: str = ""
    # keywords_beside: words that ask for it only where the description asks for one of these categories too
    # ("dashboards" is a BI tool beside a data pipeline, and an admin page's elsewhere)
    beside: tuple[str, ...] = ()
    beside_keywords: tuple[str, ...] = ()

    @property
    def phrases(self) -> tuple[str, ...]:
        """What a description says to ask for the category itself: its name, unless that is a word, and its keywords."""
        return self.keywords if self.name_is_a_word else (self.name, *self.keywords)


@dataclass(frozen=True, eq=False)
class Component:
    name: str
    label: str
    category: str
    summary: str
    keywords: tuple[str, ...]
    image: str
    build_image: str | None = None
    build_from: str | None = None  # a capability: its provider's folder builds the image (a worker runs a backend's code)
    datastore: bool = False
    ports: tuple[Port, ...] = ()
    env: tuple[Variable, ...] = ()
    provides: dict[str, dict[str, Any]] = field(default_factory=dict)
    requires: tuple[tuple[str, ...], ...] = ()
    # like requires, without being wired to it: a broker needs a worker in the stack, but never calls it
    needs: tuple[tuple[str, ...], ...] = ()
    uses: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    scrapes: tuple[str, ...] = ()  # reads these from every provider in the stack, found per scrape (Prometheus)
    tls: str | None = None  # "acme": with a domain answer, it obtains certificates and serves HTTPS itself
    volatile: str | None = None  # why what is written to it does not survive a restart (a memory-only cache)
    runtime: Runtime = field(default_factory=lambda: _runtime(Path(COMPONENT_FILE), {}))
    ci: dict[str, Any] = field(default_factory=dict)
    round_trips: tuple[dict[str, Any], ...] = ()
    health_checks: dict[str, str] = field(default_factory=dict)  # capability -> its name in the health answer
    verified: str = "native-only"
    tests: dict[str, Any] = field(default_factory=dict)  # report, round_trips, built_page or built_server
    name_is_a_word: bool = False  # an English word ("express"): only its keywords, whole phrases, choose it
    kubernetes: dict[str, Any] = field(default_factory=dict)  # env: what only the Helm chart sets, each with a why
    backup: dict[str, Any] = field(default_factory=dict)  # how make backup and make restore save and bring back its data
    # runs to completion instead of serving (a pipeline step): its command; `make pipeline` runs the stack's jobs
    job: tuple[str, ...] = ()
    service: bool = True  # false: no container of its own (a file in a volume its consumers mount)
    # more containers of the same image and environment beside its own, each a service named <name>-<process>
    # (Airflow's scheduler, DAG processor and triggerer beside its API server): process -> what it does
    processes: dict[str, str] = field(default_factory=dict)
    # an orchestrator: it runs the stack's jobs itself (their code in its image, their environment and volumes)
    runs_jobs: bool = False

    @property
    def phrases(self) -> tuple[str, ...]:
        """What a description says to choose this component: its name, unless that is a word, and its keywords."""
        return self.keywords if self.name_is_a_word else (self.name, *self.keywords)

    @property
    def serves(self) -> bool:
        """Whether `up` starts it and keeps it running: a container of its own that is no job."""
        return self.service and not self.job

    @property
    def service_names(self) -> tuple[str, ...]:
        """The compose services it runs: one named after it, and one per process."""
        if not self.serves:
            return ()
        return (self.name, *(f"{self.name}-{process}" for process in self.processes))

    @property
    def ci_version(self) -> str:
        """The toolchain version its CI job sets up, from its build image's tag: python:3.12.8-slim is 3.12.8, and a
        tag naming the toolchain's version besides the product's (apache/airflow:3.3.2-python3.11) is 3.11; ci.version
        says it where the tag names only the product's (apache/superset:6.1.0 runs Python 3.11)."""
        if "version" in self.ci:
            return str(self.ci["version"])
        tag = (self.build_image or "").split(":")[-1]
        named = re.search(rf"{re.escape(str(self.ci.get('toolchain', '')))}(\d[\d.]*)", tag)
        return named.group(1) if named else tag.split("-")[0]

    @property
    def http_port(self) -> Port | None:
        """The port whose HTTP service the component's requests, its smoke check and a proxy's health use."""
        return next((port for port in self.ports if port.http), None)

    def port_at(self, container: Any) -> Port | None:
        """Its ports: entry of this container port (what provides.<capability>.port names), or None."""
        return next((port for port in self.ports if port.container == container), None)

    @property
    def requirements(self) -> tuple[tuple[str, ...], ...]:
        """Each group of capabilities of which the stack must have one for this component to work."""
        return self.requires + self.needs

    @property
    def wants(self) -> tuple[str, ...]:
        """Every capability this component is wired to when the stack has a provider of it."""
        wanted = [cap for group in self.requires for cap in group] + [*self.uses, *self.routes, *self.scrapes]
        return tuple(dict.fromkeys(wanted))


@dataclass(frozen=True, eq=False)
class Catalog:
    categories: dict[str, Category]
    components: dict[str, Component]  # in questionnaire order: by category, then by name
    absent: dict[str, Absent] = field(default_factory=dict)  # not-in-catalog.yml

    @property
    def questions(self) -> dict[str, Category]:
        """The categories the questionnaire asks, in order: all but the automatic ones."""
        return {name: c for name, c in self.categories.items() if not c.automatic}

    def automatic(self) -> list[Component]:
        """The components that join a stack by themselves (see Category.automatic)."""
        return [c for c in self.components.values() if self.categories[c.category].automatic]

    def in_category(self, category: str) -> list[Component]:
        return [c for c in self.components.values() if c.category == category]

    def component_of(self, service: str) -> Component:
        """The component whose fragment defines the compose service `service`: its own, or one of its processes'."""
        if service in self.components:
            return self.components[service]
        return next(c for c in self.components.values() if service in c.service_names)

    def providers(self, capability: str) -> list[Component]:
        return [c for c in self.components.values() if capability in c.provides]


def load_catalog(directory: Path = CATALOG_DIR, cache: Path | None = None) -> Catalog:
    """The catalog of `directory`; with a `cache` folder, each file's parsed YAML is kept there by its content,
    so that reading a catalog of many components costs little more than reading its files."""
    files = ParsedFiles(cache)
    categories = _load_categories(files.read(directory / CATEGORIES_FILE), directory / CATEGORIES_FILE)
    found = sorted(path.parent for path in directory.glob(f"*/{COMPONENT_FILE}"))
    loaded = [_load_component(folder, files.read(folder / COMPONENT_FILE), categories) for folder in found]
    order = list(categories)
    loaded.sort(key=lambda c: (order.index(c.category), c.name))
    absent_file = directory / NOT_IN_CATALOG_FILE
    absent = _load_absent(absent_file, files.read(absent_file), categories) if absent_file.exists() else {}
    catalog = Catalog(categories, {c.name: c for c in loaded}, absent)
    _check_catalog(catalog, directory)
    files.save()
    return catalog


class ParsedFiles:
    """YAML files of the catalog, parsed; the parse of each text kept in `cache` (a folder) between runs."""

    def __init__(self, cache: Path | None) -> None:
        self.path = cache / "stacks-catalog.json" if cache else None
        self.parsed: dict[str, Any] = {}
        self.used: set[str] = set()
        self.changed = False
        if self.path and self.path.exists():
            try:
                self.parsed = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.parsed = {}

    def read(self, path: Path) -> dict[str, Any]:
        text = path.read_text(encoding="utf-8")
        key = hashlib.sha256(text.encode()).hexdigest()
        if key not in self.parsed:
            data = _parse_mapping(path, text)
            try:
                if json.loads(json.dumps(data)) != data:  # keys or values JSON would change: not cached
                    return data
            except (TypeError, ValueError):
                return data
            self.parsed[key] = data
            self.changed = True
        self.used.add(key)
        return copy.deepcopy(self.parsed[key])

    def save(self) -> None:
        if self.path and (self.changed or set(self.parsed) != self.used):
            temporary = self.path.with_suffix(f".{os.getpid()}.tmp")
            try:  # this catalog's files only: an edited file's old parse goes
                temporary.write_text(json.dumps({key: self.parsed[key] for key in self.used}), encoding="utf-8")
                os.replace(temporary, self.path)
            except OSError:
                temporary.unlink(missing_ok=True)


def _load_absent(path: Path, data: dict[str, Any], categories: dict[str, Category]) -> dict[str, Absent]:
    absent = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or set(spec) - {"label", "category", "closest", "keywords"} \
                or not _one_line(spec.get("label")) or spec.get("category", NONE) not in (*categories, NONE):
            raise CatalogError(f"{path}: '{name}' needs a label, a category (one of {', '.join(categories)} or none), "
                               "keywords, and may name its closest component")
        category = spec.get("category", NONE)
        closest = spec.get("closest") or (categories[category].default if category != NONE else NONE)
        absent[name] = Absent(name, str(spec["label"]), category, str(closest), _words(path, "keywords", spec.get("keywords")))
    return absent


def _parse_mapping(path: Path, text: str) -> dict[str, Any]:
    try:
        data = yaml.load(text, Loader=YAML_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError as error:
        raise CatalogError(f"{path}: not valid YAML ({error}); fix the syntax") from None
    if not isinstance(data, dict):
        raise CatalogError(f"{path}: must be a YAML mapping of keys to values")
    return data


def _words(path: Path, key: str, value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise CatalogError(f"{path}: '{key}' must be a list of words, e.g. [{key[:-1]}]")
    return tuple(v.strip().lower() for v in value)


def _load_categories(data: dict[str, Any], path: Path) -> dict[str, Category]:
    categories = {}
    for name, spec in data.items():
        if not isinstance(spec, dict) or set(spec) - CATEGORY_KEYS:
            unknown = sorted(set(spec) - CATEGORY_KEYS) if isinstance(spec, dict) else spec
            raise CatalogError(f"{path}: category '{name}' has unknown keys {unknown}; allowed: {sorted(CATEGORY_KEYS)}")
        categories[name] = Category(
            name=name,
            label=str(spec.get("label", name)),
            multiselect=bool(spec.get("multiselect", False)),
            default=str(spec.get("default", NONE)),
            keywords=_words(path, "keywords", spec.get("keywords", [])),
            name_is_a_word=_flag(path, "name_is_a_word", spec.get("name_is_a_word", False)),
            automatic=_flag(path, "automatic", spec.get("automatic", False)),
            keyword_default=str(spec.get("keyword_default", "")),
            capability=str(spec.get("capability", "")),
            **_keywords_beside(path, name, spec.get("keywords_beside")),
        )
    return categories


def _keywords_beside(path: Path, name: str, spec: Any) -> dict[str, tuple[str, ...]]:
    if spec is None:
        return {}
    if not (isinstance(spec, dict) and set(spec) == {"categories", "keywords"}):
        raise CatalogError(f"{path}: keywords_beside of '{name}' holds categories (the ones a description must ask for "
                           "too) and keywords (the words that ask for it there), e.g. {categories: [warehouse], "
                           "keywords: [dashboards]}")
    return {"beside": _words(path, "categories", spec["categories"]),
            "beside_keywords": _words(path, "keywords", spec["keywords"])}


def _load_component(folder: Path, spec: dict[str, Any], categories: dict[str, Category]) -> Component:
    path = folder / COMPONENT_FILE
    name = folder.name
    if not COMPONENT_NAME.match(name):
        raise CatalogError(f"{folder}: rename the folder to lowercase letters, digits and hyphens; it becomes a service name")
    unknown = set(spec) - COMPONENT_KEYS
    if unknown:
        raise CatalogError(f"{path}: unknown keys {sorted(unknown)}; allowed: {sorted(COMPONENT_KEYS)}")
    service = _flag(path, "service", spec.get("service", True))
    if not service and set(spec) & SERVICE_KEYS:
        raise CatalogError(f"{path}: a component with service: false has no container, so no "
                           f"{', '.join(sorted(set(spec) & SERVICE_KEYS))}: it is what its consumers mount "
                           "(provides.<capability>.volume) and read from their environment (provides.<capability>.env)")
    missing = REQUIRED_COMPONENT_KEYS - set(spec) - (set() if service else {"image"})
    if missing:
        raise CatalogError(f"{path}: add the missing keys {sorted(missing)}")
    if spec["category"] not in categories:
        raise CatalogError(f"{path}: category '{spec['category']}' is not one of {sorted(categories)} (see {CATEGORIES_FILE})")
    for key in ("image", "build_image"):
        if key in spec and not PINNED_IMAGE.match(str(spec[key])):
            raise CatalogError(f"{path}: {key} '{spec[key]}' must be pinned to an exact version tag, e.g. postgres:17.2-alpine")
    job = _job(path, spec)
    runtime = _runtime(path, {**({"restart": "no"} if job else {}), **(spec.get("runtime") or {})})
    if job and runtime.restart != "no":
        raise CatalogError(f"{path}: a job is run, not restarted: set runtime.restart to \"no\" or leave it out")
    if service and runtime.user is None and "non_root" not in runtime.exceptions:
        raise CatalogError(f"{path}: set runtime.user to the numeric uid:gid the service runs as (for an image built "
                           "from its Dockerfile, the Dockerfile's USER): the Helm chart runs it as that user")
    return Component(
        name=name,
        label=str(spec["label"]),
        category=spec["category"],
        summary=str(spec["summary"]),
        keywords=_words(path, "keywords", spec["keywords"]),
        image=str(spec.get("image", "")),
        build_image=spec.get("build_image"),
        build_from=spec.get("build_from"),
        datastore=bool(spec.get("datastore", False)),
        ports=tuple(_port(path, p) for p in spec.get("ports") or []),
        env=tuple(_variable(path, k, v) for k, v in (spec.get("env") or {}).items()),
        provides={cap: dict(data or {}) for cap, data in (spec.get("provides") or {}).items()},
        requires=tuple(tuple(g) if isinstance(g, list) else (g,) for g in spec.get("requires") or []),
        needs=tuple(tuple(g) if isinstance(g, list) else (g,) for g in spec.get("needs") or []),
        uses=tuple(spec.get("uses") or []),
        routes=tuple(spec.get("routes") or []),
        scrapes=tuple(spec.get("scrapes") or []),
        tls=_tls(path, spec.get("tls")),
        volatile=_volatile(path, spec.get("volatile")),
        runtime=runtime,
        ci=_ci(path, spec.get("ci") or {}, spec.get("build_image")),
        round_trips=tuple(_round_trip(path, r) for r in spec.get("round_trips") or []),
        health_checks=_health_checks(path, spec.get("health_checks") or {}),
        verified=_verified(path, spec.get("verified", "native-only")),
        tests=_tests(path, spec.get("tests") or {}),
        name_is_a_word=_flag(path, "name_is_a_word", spec.get("name_is_a_word", False)),
        kubernetes=_kubernetes(path, spec.get("kubernetes") or {}),
        backup=_backup(path, spec.get("backup"), datastore=bool(spec.get("datastore")) and "volatile" not in spec),
        job=job,
        service=service,
        processes=_processes(path, spec.get("processes") or {}),
        runs_jobs=_flag(path, "runs_jobs", spec.get("runs_jobs", False)),
    )


def _processes(path: Path, spec: Any) -> dict[str, str]:
    """processes: {name: what it does}: more containers of the component's image, each a compose service
    <component>-<name> that its fragment writes."""
    if not isinstance(spec, dict) or not all(isinstance(k, str) and COMPONENT_NAME.match(k) and _one_line(v)
                                             for k, v in spec.items()):
        raise CatalogError(f"{path}: processes maps each process (lowercase letters, digits, hyphens) to one line "
                           "saying what it does, e.g. processes: {scheduler: runs the DAGs' tasks}")
    return {str(k): str(v) for k, v in spec.items()}


def _job(path: Path, spec: dict[str, Any]) -> tuple[str, ...]:
    """job: {command: [argv]}: runs to completion, started by `make pipeline` (compose run), never by `up`. Only a
    job's round trips have run steps, and only run steps."""
    steps = [step for trip in spec.get("round_trips") or [] if isinstance(trip, dict)
             for phase in ("write", "read") for step in trip.get(phase) or [] if isinstance(step, dict)]
    if "job" not in spec:
        if any("run" in step for step in steps):
            raise CatalogError(f"{path}: run steps start a job's container; a service that keeps running is checked "
                               "with exec or request steps instead")
        return ()
    job = spec["job"]
    if not (isinstance(job, dict) and set(job) == {"command"} and isinstance(job["command"], list) and job["command"]
            and all(isinstance(a, str) and a for a in job["command"])):
        raise CatalogError(f"{path}: job is {{command: [argv]}}, the command it runs to completion, e.g. "
                           "job: {command: [python, pipeline.py]}")
    served = [key for key in ("ports", "health_checks") if spec.get(key)]
    if served or any(set(step) & {"request", "exec", "check"} for step in steps):
        raise CatalogError(f"{path}: a job runs to completion, so it has no ports, health_checks, requests or exec "
                           "steps: check it with run steps, e.g. {run: [python, pipeline.py], contains: rows loaded}")
    return tuple(job["command"])


def _backup(path: Path, spec: Any, datastore: bool) -> dict[str, Any]:
    """backup: how `make backup` and `make restore` (.stacks/backup.sh) save and bring back the service's data, each
    command a line of sh run in the service's container with its environment: dump writes the backup to stdout,
    check reads one on stdin and fails when it is damaged, restore reads one on stdin and puts its data back. file
    names it in backups/<time>/. stopped: true when restoring needs the server down: restore then runs in a
    one-off container of the service, on its volumes, in the image's working directory."""
    example = ("e.g. backup: {file: postgres.dump, dump: pg_dump --format=custom ..., check: pg_restore --list >/dev/null, "
               "restore: pg_restore --clean ...}")
    if spec is None:
        if datastore:
            raise CatalogError(f"{path}: a datastore says how make backup saves its data and make restore brings it "
                               f"back ({example}), or is volatile (it keeps nothing across a restart)")
        return {}
    if not isinstance(spec, dict) or set(spec) - BACKUP_KEYS or BACKUP_KEYS - {"stopped"} - set(spec):
        raise CatalogError(f"{path}: backup holds file, dump, check and restore, and stopped: true where the restore "
                           f"needs the server down ({example})")
    if not (isinstance(spec["file"], str) and FILE_NAME.match(spec["file"])):
        raise CatalogError(f"{path}: backup.file is the backup's file name with a suffix saying its format, e.g. "
                           "postgres.dump")
    for key in ("dump", "check", "restore"):
        if not (isinstance(spec[key], str) and spec[key].strip()):
            raise CatalogError(f"{path}: backup.{key} is a shell command run in the service's container ({example})")
    return {"file": spec["file"], "dump": spec["dump"].strip(), "check": spec["check"].strip(),
            "restore": spec["restore"].strip(), "stopped": _flag(path, "backup.stopped", spec.get("stopped", False))}


def _volatile(path: Path, value: Any) -> str | None:
    if value is not None and not _one_line(value):
        raise CatalogError(f"{path}: volatile is one line saying why its data does not survive a restart, e.g. "
                           "\"memcached keeps its values in memory only\"; leave it out for a service that keeps them")
    return None if value is None else str(value)


def _tls(path: Path, value: Any) -> str | None:
    if value not in (None, "acme"):
        raise CatalogError(f"{path}: tls is acme (with a domain answer, it obtains certificates itself) or absent")
    return value


def _flag(path: Path, key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise CatalogError(f"{path}: {key} is true or false, not {value!r}")
    return value


def _round_trip(path: Path, spec: Any) -> dict[str, Any]:
    example = ("e.g. {name: an item is read back, write: [{request: POST /items, json: {name: \"{token}\"}, "
               "status: 201, keep: {item: id}}], read: [{request: \"GET /items/{item}\", expect: {name: \"{token}\"}}]}")
    if not isinstance(spec, dict) or set(spec) - ROUND_TRIP_KEYS or not _one_line(spec.get("name")) \
            or not spec.get("read"):
        raise CatalogError(f"{path}: each round trip needs a name and read steps, and may have write steps and "
                           f"when (a capability the component must be wired to); {example}")
    for phase in ("write", "read"):
        steps = spec.get(phase) or []
        if not isinstance(steps, list):
            raise CatalogError(f"{path}: round trip '{spec['name']}': {phase} must be a list of steps; {example}")
        for step in steps:
            _step(path, spec["name"], step)
    return dict(spec)


def _step(path: Path, name: str, step: Any) -> None:
    where = f"{path}: round trip '{name}'"
    if isinstance(step, dict) and "targets_up" in step:  # a scraper: every target the stack gives it is up
        if set(step) != {"targets_up"} or not re.match(r"^/\S*$", str(step["targets_up"])):
            raise CatalogError(f"{where}: a targets_up step is only targets_up: <the path of the scraper's targets API "
                               "on its http port>, e.g. {targets_up: /api/v1/targets}")
        return
    if isinstance(step, dict) and "check" in step:
        if set(step) != {"check"} or not isinstance(step["check"], str):
            raise CatalogError(f"{where}: a check step is only check: <capability> (the steps its provider declares "
                               "under provides.<capability>.check), e.g. {check: smtp}")
        return
    if not isinstance(step, dict) or set(step) - STEP_KEYS or len({"request", "exec", "run"} & set(step)) != 1:
        raise CatalogError(f"{where}: a step is either request: \"METHOD /path\", exec: [command, args] or, for a "
                           f"job, run: [args], with any of {', '.join(sorted(STEP_KEYS - {'request', 'exec', 'run'}))}")
    if "run" in step and (set(step) - {"run", "contains"} or not isinstance(step["run"], list) or not step["run"]
                          or not all(isinstance(a, str) for a in step["run"])):
        raise CatalogError(f"{where}: a run step is run: [args] (the job's container run with them) with contains "
                           "only, e.g. {run: [python, pipeline.py, --count], contains: rows}")
    if "request" in step and not REQUEST.match(str(step["request"])):
        raise CatalogError(f"{where}: request '{step['request']}' must be a method and a path, e.g. GET /health")
    if "exec" in step and (not isinstance(step["exec"], list) or not step["exec"]
                           or not all(isinstance(a, str) for a in step["exec"])):
        raise CatalogError(f"{where}: exec must be a command as a list of strings, e.g. [redis-cli, ping]")
    longest = EXEC_TIMEOUT_MAX if "exec" in step else 120
    if "timeout" in step and not (isinstance(step["timeout"], int) and 1 <= step["timeout"] <= longest):
        raise CatalogError(f"{where}: timeout must be a whole number of seconds from 1 to {longest}, e.g. timeout: 60")
    for key in ("headers", "expect_headers"):
        if key in step and not (isinstance(step[key], dict) and all(isinstance(k, str) and isinstance(v, str)
                                                                    for k, v in step[key].items())):
            raise CatalogError(f"{where}: {key} maps header names to text, e.g. {{Accept-Encoding: gzip}}")
    if "body_size" in step and ("json" in step or not (isinstance(step["body_size"], int) and step["body_size"] > 0)):
        raise CatalogError(f"{where}: body_size is a number of bytes to send, instead of json")
    if "body" in step and (len({"json", "body_size", "body"} & set(step)) > 1 or not isinstance(step["body"], str)):
        raise CatalogError(f"{where}: body is a text sent as the request's raw body, instead of json or body_size, "
                           "e.g. body: \"{token}\"")
    if "repeat" in step and not (isinstance(step["repeat"], int) and 2 <= step["repeat"] <= 1000):
        raise CatalogError(f"{where}: repeat is how many times to send the request at once, from 2 to 1000")
    if "from" in step and ("exec" not in step or not isinstance(step["from"], str)):
        raise CatalogError(f"{where}: from names the capability (the trip's when) in whose provider's container an "
                           "exec step runs, e.g. {exec: [wget, -q, -O, -, \"http://<name>:9113/metrics\"], from: "
                           "nginx-status}")
    if "exec" in step and set(step) & {"json", "status", "expect", "keep", "headers", "expect_headers",
                                       "repeat", "body_size", "body"}:
        raise CatalogError(f"{where}: an exec step checks its output with contains only")
    if "status" in step and not (isinstance(step["status"], int) and 100 <= step["status"] < 600):
        raise CatalogError(f"{where}: status must be an HTTP status code, e.g. 201")
    if "expect" in step and not isinstance(step["expect"], dict):
        raise CatalogError(f"{where}: expect must be a mapping that the JSON answer contains, e.g. {{status: ok}}")
    if "keep" in step and not (isinstance(step["keep"], dict) and all(
            re.match(r"^[a-z][a-z_]*$", str(k)) and isinstance(v, str) for k, v in step["keep"].items())):
        raise CatalogError(f"{where}: keep maps a lowercase name to a field of the JSON answer, e.g. {{item: id}}")


def _health_checks(path: Path, spec: Any) -> dict[str, str]:
    if not isinstance(spec, dict) or not all(_one_line(v) for v in spec.values()):
        raise CatalogError(f"{path}: health_checks maps each capability the component reports on in its health "
                           "answer to the name it reports it under, e.g. {sql-database: database}")
    return {str(k): str(v) for k, v in spec.items()}


def _tests(path: Path, spec: Any) -> dict[str, Any]:
    """tests: {report: <JUnit XML file `make test` writes, in the component's folder>, round_trips: {capability:
    [names of test cases that go through a real server of it]}}: what the suite checks ran and passed. A page
    says where `make build` leaves it: built_page, the HTML file; or built_server, the command (run in the
    component's folder, listening on $PORT at $HOSTNAME) of the server the build writes, which renders it."""
    example = "e.g. tests: {report: test-results.xml, round_trips: {sql-database: [test_item_written_is_read_back]}}"
    if not isinstance(spec, dict) or set(spec) - {"report", "round_trips", "built_page", "built_server"}:
        raise CatalogError(f"{path}: tests may only hold report, round_trips, built_page and built_server ({example})")
    report = spec.get("report")
    if report is not None and not (isinstance(report, str) and re.match(r"^[\w.-]+(/[\w.-]+)*\.xml$", report)):
        raise CatalogError(f"{path}: tests.report is the JUnit XML file make test writes, relative to the "
                           f"component's folder ({example})")
    trips = spec.get("round_trips") or {}
    if not isinstance(trips, dict) or not all(
            isinstance(names, list) and names and all(_one_line(n) for n in names) for names in trips.values()):
        raise CatalogError(f"{path}: tests.round_trips maps a capability to the test cases that need a real server "
                           f"of it ({example})")
    if trips and not report:
        raise CatalogError(f"{path}: tests.round_trips needs tests.report, where the suite finds them ({example})")
    page, server = spec.get("built_page"), spec.get("built_server")
    if page is not None and not (isinstance(page, str) and re.match(r"^[\w.-]+(/[\w.-]+)*\.html$", page)):
        raise CatalogError(f"{path}: tests.built_page is the HTML file make build writes, relative to the component's "
                           "folder, e.g. dist/index.html")
    if server is not None and not (isinstance(server, list) and server and all(_one_line(a) for a in server)):
        raise CatalogError(f"{path}: tests.built_server is the command of the server make build writes, as a list, "
                           "e.g. [node, .next/standalone/server.js]")
    if page is not None and server is not None:
        raise CatalogError(f"{path}: a page is either a built file (tests.built_page) or rendered by a built server "
                           "(tests.built_server), not both")
    tests: dict[str, Any] = {"report": report, "round_trips": {str(k): [str(n) for n in v] for k, v in trips.items()}}
    if page is not None:
        tests["built_page"] = page
    if server is not None:
        tests["built_server"] = [str(a) for a in server]
    return tests


def _verified(path: Path, value: Any) -> str:
    if value not in VERIFIED:
        raise CatalogError(f"{path}: verified must be one of {', '.join(VERIFIED)}: how the component was shown to "
                           "run (see tests/engine/)")
    return str(value)


def _ci(path: Path, spec: Any, build_image: str | None) -> dict[str, Any]:
    example = "e.g. ci: {toolchain: python, targets: [test]}"
    if not isinstance(spec, dict) or set(spec) - CI_KEYS:
        raise CatalogError(f"{path}: ci may only hold {', '.join(sorted(CI_KEYS))} ({example})")
    if "toolchain" in spec or "targets" in spec:
        if spec.get("toolchain") not in CI_TOOLCHAINS or not build_image:
            raise CatalogError(f"{path}: ci.toolchain must be one of {', '.join(CI_TOOLCHAINS)}, and the component "
                               "needs a build_image, whose tag gives the toolchain's version")
        targets = spec.get("targets")
        if not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets):
            raise CatalogError(f"{path}: ci.targets must list the make targets of the component's Makefile that CI "
                               f"runs ({example})")
    if "version" in spec and not (isinstance(spec["version"], str) and re.match(r"^\d+(\.\d+)+$", spec["version"])
                                  and "toolchain" in spec):
        raise CatalogError(f"{path}: ci.version is the toolchain's version as a quoted string, e.g. version: \"3.11\", "
                           "for a build image whose tag names only the product's version; it needs ci.toolchain")
    service = spec.get("service")
    if service is not None:
        if (not isinstance(service, dict) or set(service) - CI_SERVICE_KEYS
                or not {"port", "health", "test_env"} <= set(service) or not isinstance(service["test_env"], dict)
                or not all(isinstance(v, dict) for v in (service.get("test_env_as") or {}).values())):
            raise CatalogError(f"{path}: ci.service needs port, health (a command in the image) and test_env (the "
                               "TEST_* variables pointing at it), and may have env and test_env_as (capability: "
                               "the TEST_* variables of a job wired to it for that capability)")
        command = service.get("command")
        if command is not None and (not isinstance(command, list) or not command
                                    or not all(isinstance(word, str) and word for word in command)):
            raise CatalogError(f"{path}: ci.service.command lists the arguments the image runs with, "
                               "e.g. command: [server, /data]")
    return dict(spec)


def _port(path: Path, spec: Any) -> Port:
    try:
        host = spec["host"] if isinstance(spec["host"], list) else [spec["host"]]
        port = Port(env=spec["env"], container=int(spec["container"]), host=tuple(int(h) for h in host),
                    help=str(spec["help"]), http=spec.get("http"), link=str(spec.get("link", "/")),
                    local_only=spec.get("local_only"), protocol=spec.get("protocol", "tcp"))
    except (KeyError, TypeError, ValueError):
        raise CatalogError(f"{path}: each port needs env, container, host (preferred host ports) and help") from None
    if port.protocol not in PORT_PROTOCOLS:
        raise CatalogError(f"{path}: port {port.env}: protocol is tcp (the default) or udp, e.g. protocol: udp for a "
                           "GELF listener")
    if port.protocol == "udp" and port.http is not None:
        raise CatalogError(f"{path}: port {port.env}: a udp port answers no HTTP: remove http, or declare the HTTP "
                           "port as a port of its own")
    if port.local_only is not None and not _one_line(port.local_only):
        raise CatalogError(f"{path}: port {port.env}: local_only is one line saying why the port is published on "
                           "127.0.0.1 only, e.g. \"its web UI has no login\"")
    if not re.match(r"^/\S*$", port.link):
        raise CatalogError(f"{path}: port {port.env}: link is the path of the page a person opens, e.g. /docs")
    if port.http is not None and not (isinstance(port.http, str) and re.match(r"^/\S*$", port.http)):
        raise CatalogError(f"{path}: port {port.env}: http is the path that answers 200 when the service works, "
                           "e.g. /health")
    if not VARIABLE_NAME.match(port.env) or not port.env.endswith("_HOST_PORT"):
        raise CatalogError(f"{path}: port variable '{port.env}' must be UPPER_CASE and end in _HOST_PORT (it names a port on the host)")
    if not port.host or not all(0 < h < 65536 for h in (*port.host, port.container)):
        raise CatalogError(f"{path}: port {port.env} needs at least one host port, all between 1 and 65535")
    return port


def _variable(path: Path, name: str, spec: Any) -> Variable:
    if not VARIABLE_NAME.match(name) or not isinstance(spec, dict) or not spec.get("help"):
        raise CatalogError(f"{path}: env variable '{name}' must be UPPER_CASE with a help text")
    if unknown := sorted(set(spec) - VARIABLE_KEYS):
        raise CatalogError(f"{path}: env variable '{name}' has unknown keys {unknown}; allowed: {sorted(VARIABLE_KEYS)}")
    if "for" in spec and not (isinstance(spec["for"], str) and spec["for"]):
        raise CatalogError(f"{path}: env.{name}.for names one capability of this component (the variable is set only "
                           "where a service is wired to it), e.g. for: warehouse")
    if spec.get("secret") and "value" in spec:
        raise CatalogError(f"{path}: secret '{name}' must not have a value; the hook generates it into .env")
    value = str(spec.get("value", ""))
    if any(ch in value for ch in "\n\r#'\"$`\\"):
        raise CatalogError(f"{path}: the value of '{name}' must be plain text without quotes, #, $, backslash or newlines")
    return Variable(name=name, help=str(spec["help"]), value=value, secret=bool(spec.get("secret", False)),
                    lists_hosts=_flag(path, f"env.{name}.lists_hosts", spec.get("lists_hosts", False)),
                    only_for=spec.get("for"))


def _kubernetes(path: Path, spec: Any) -> dict[str, Any]:
    """What the Helm chart sets that compose does not: `env`, each variable a mapping of its value and why; or
    `omit`: why the chart leaves the component out (a cluster brings its own)."""
    if isinstance(spec, dict) and "omit" in spec:
        if set(spec) != {"omit"} or not _one_line(spec["omit"]):
            raise CatalogError(f"{path}: kubernetes.omit is one line saying why the chart leaves the component out "
                               "(and what a cluster uses instead), with no other kubernetes key")
        return {"env": {}, "omit": str(spec["omit"])}
    env = spec.get("env") if isinstance(spec, dict) else None
    if not isinstance(spec, dict) or set(spec) - {"env"} or not isinstance(env or {}, dict) or not all(
            VARIABLE_NAME.match(str(k)) and isinstance(v, dict) and set(v) == {"value", "why"}
            and _one_line(v["value"]) and _one_line(v["why"]) for k, v in (env or {}).items()):
        raise CatalogError(f"{path}: kubernetes holds env: variables only the Helm chart sets, each with its value "
                           "and why, e.g. {env: {PGDATA: {value: /var/lib/postgresql/data/pgdata, why: ...}}}")
    return {"env": {k: str(v["value"]) for k, v in (env or {}).items()}}


def _one_line(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not any(ch in value for ch in "\n\r")


def _runtime(path: Path, spec: Any) -> Runtime:
    """The component's runtime posture: the defaults, with what its `runtime:` section sets instead."""
    if not isinstance(spec, dict):
        raise CatalogError(f"{path}: 'runtime' must be a mapping, e.g. runtime: {{memory: 512m}}")
    unknown = set(spec) - set(RUNTIME_DEFAULTS)
    if unknown:
        raise CatalogError(f"{path}: unknown runtime keys {sorted(unknown)}; allowed: {sorted(RUNTIME_DEFAULTS)}")
    r = {**RUNTIME_DEFAULTS, **spec}
    exceptions = r["exceptions"]
    if not isinstance(exceptions, dict) or set(exceptions) - set(POSTURE_RULES) \
            or not all(_one_line(reason) for reason in exceptions.values()):
        raise CatalogError(f"{path}: runtime.exceptions maps a rule ({', '.join(POSTURE_RULES)}) to a one-line "
                           "reason why the service cannot meet it, e.g. {read_only: the image writes its config at start}")
    user = r["user"]
    if user is not None and (not NUMERIC_USER.match(str(user)) or int(str(user).split(":")[0]) == 0):
        raise CatalogError(f"{path}: runtime.user '{user}' must be a numeric uid:gid other than root, e.g. \"70:70\" "
                           "(a name may not exist in the image); a service that must run as root needs "
                           "runtime.exceptions.non_root instead")
    if not isinstance(r["read_only"], bool):
        raise CatalogError(f"{path}: runtime.read_only must be true or false")
    if not r["read_only"] and "read_only" not in exceptions:
        raise CatalogError(f"{path}: runtime.read_only is false: say why under runtime.exceptions.read_only, or "
                           "keep it true and list the paths the service writes under runtime.tmpfs")
    tmpfs = r["tmpfs"]
    if not isinstance(tmpfs, list) or not all(isinstance(t, str) and re.match(r"^/[\w./-]*$", t) for t in tmpfs):
        raise CatalogError(f"{path}: runtime.tmpfs must be a list of absolute paths, e.g. [/tmp, /var/run/postgresql]")
    cap_add = r["cap_add"]
    if not isinstance(cap_add, dict) or not all(isinstance(c, str) and CAPABILITY.match(c) and c != "ALL"
                                                and not c.startswith("CAP_") for c in cap_add) \
            or not all(_one_line(reason) for reason in cap_add.values()):
        raise CatalogError(f"{path}: runtime.cap_add maps each capability the service needs (every other one is "
                           "dropped) to a one-line reason, e.g. {NET_BIND_SERVICE: listens on port 80}")
    if not MEMORY.match(str(r["memory"])):
        raise CatalogError(f"{path}: runtime.memory '{r['memory']}' must be a size with a unit, e.g. 256m or 1g")
    if isinstance(r["cpus"], bool) or not isinstance(r["cpus"], (int, float)) or not 0 < r["cpus"] <= 64:
        raise CatalogError(f"{path}: runtime.cpus must be a number of CPUs above 0, e.g. 0.5")
    if r["restart"] not in RESTART_POLICIES:
        raise CatalogError(f"{path}: runtime.restart must be one of {', '.join(RESTART_POLICIES)}")
    return Runtime(
        user=None if user is None else str(user),
        read_only=r["read_only"],
        tmpfs=tuple(tmpfs),
        cap_add=dict(cap_add),
        memory=str(r["memory"]),
        cpus=float(r["cpus"]),
        restart=r["restart"],
        exceptions=dict(exceptions),
    )


def _check_alerts(path: Path, name: str, capability: str, alerts: Any, catalog: Catalog) -> None:
    """provides.<capability>.alerts: a file of Prometheus alert rules in the component's folder, with its promtool
    unit test beside it, both generated only where a component of the stack scrapes this one."""
    scrapers = [c.label for c in catalog.components.values() if capability in c.scrapes]
    if not scrapers:
        raise CatalogError(f"{path}: provides.{capability}.alerts: no component scrapes {capability}, so nothing "
                           "would load these alert rules; remove alerts or fix the capability")
    if not (isinstance(alerts, str) and FILE_NAME.match(alerts) and alerts.endswith(".yml")):
        raise CatalogError(f"{path}: provides.{capability}.alerts names the file of its alert rules, e.g. alerts.yml")
    test = alerts.removesuffix(".yml") + ".test.yml"
    for file in (alerts, test):
        expected = f"{{% if stack.scraped('{name}') %}}{file}{{% endif %}}"
        if not (path.parent / expected).is_file():
            raise CatalogError(f"{path}: provides.{capability}.alerts: add the file '{expected}' to {path.parent} "
                               f"(its alert rules, and their promtool unit test in {test}), generated only where "
                               f"{' or '.join(scrapers)} scrapes {capability}")


def _check_dashboard(path: Path, name: str, capability: str, dashboard: Any, catalog: Catalog) -> None:
    """provides.<capability>.dashboard: a Grafana dashboard (JSON) in the component's folder, generated only where
    what it shows is there: where a component of the stack scrapes this one, for a capability a scraper reads
    (metrics); else where a component of the stack is wired to this one for it (Prometheus's own metrics-query,
    read by Grafana). Grafana loads every dashboard the stack generates (services/grafana/compose.yaml.jinja)."""
    if not (isinstance(dashboard, str) and FILE_NAME.match(dashboard) and dashboard.endswith(".json")):
        raise CatalogError(f"{path}: provides.{capability}.dashboard names the file of its Grafana dashboard, e.g. "
                           "dashboard.json")
    scrapers = [c.label for c in catalog.components.values() if capability in c.scrapes]
    readers = [c.label for c in catalog.components.values() if capability in c.wants and c.name != name]
    if scrapers:
        expected = f"{{% if stack.scraped('{name}') %}}{dashboard}{{% endif %}}"
        where = f"where {' or '.join(scrapers)} scrapes {capability}"
    elif readers:
        expected = f"{{% if stack.provided('{name}', '{capability}') %}}{dashboard}{{% endif %}}"
        where = f"where {' or '.join(readers)} is wired to it for {capability}"
    else:
        raise CatalogError(f"{path}: provides.{capability}.dashboard: no component reads {capability}, so nothing "
                           "would show this dashboard; remove dashboard or fix the capability")
    if not (path.parent / expected).is_file():
        raise CatalogError(f"{path}: provides.{capability}.dashboard: add the file '{expected}' to {path.parent} (a "
                           f"Grafana dashboard, its panels querying the datasource uid prometheus), generated only {where}")


def _check_log_driver(path: Path, component: Component, capability: str, data: dict[str, Any],
                      catalog: Catalog) -> None:
    """A log collector: every service of its stacks logs to it with Docker's driver `log_driver`, which the engine's
    daemon sends over UDP to 127.0.0.1:<the host port of its ports: entry whose container port is `port`>."""
    port = component.port_at(data.get("port"))
    if data["log_driver"] not in LOG_DRIVERS or port is None or port.protocol != "udp" or not port.local_only:
        raise CatalogError(f"{path}: provides.{capability}: a log collector names the Docker logging driver every "
                           f"service uses ({' or '.join(LOG_DRIVERS)}) and the container port it listens on, one of "
                           "its ports with protocol: udp and local_only (the daemon sends to 127.0.0.1), e.g. "
                           "{log_driver: gelf, port: 12201}")
    others = [c.name for c in catalog.components.values() if c.name != component.name
              and any("log_driver" in d for d in c.provides.values())]
    if others:  # the engine renders one driver per service: two collectors in one stack would need stack_problems
        raise CatalogError(f"{path}: provides.{capability}.log_driver: {others[0]} is the catalog's log collector "
                           "already; one collector at a time, until a stack refuses two")


def _check_volume(path: Path, capability: str, volume: Any) -> None:
    example = "e.g. volume: {name: warehouse-data, mount: /data/warehouse}, or with read_only: true"
    if not (isinstance(volume, dict) and {"name", "mount"} <= set(volume) <= VOLUME_KEYS
            and VOLUME_NAME.match(str(volume["name"])) and re.match(r"^/[\w./-]+$", str(volume["mount"]))
            and isinstance(volume.get("read_only", False), bool)):
        raise CatalogError(f"{path}: provides.{capability}.volume names the volume its fragment declares (lowercase "
                           f"letters, digits, hyphens), the absolute path each consumer mounts it at, and may say "
                           f"read_only: true (consumers only read it), {example}")


def consumer_form(value: str, consumer: str) -> str:
    """A per_consumer capability's env value for `consumer`: {consumer} as an identifier, {CONSUMER} in upper case."""
    ident = consumer.replace("-", "_")
    return CONSUMER_NAME.sub(lambda m: ident if m.group(1) == "consumer" else ident.upper(), value)


def _check_job_order(catalog: Catalog, directory: Path) -> None:
    """`make pipeline` runs a job after the jobs whose capabilities it wants: none may want, through others, its own."""
    jobs = [c for c in catalog.components.values() if c.job]
    after = {j.name: {p.name for cap in j.wants for p in catalog.providers(cap) if p.job and p.name != j.name}
             for j in jobs}
    for job in jobs:
        seen, todo = set(), list(after[job.name])
        while todo:
            name = todo.pop()
            if name == job.name:
                raise CatalogError(f"{directory / job.name / COMPONENT_FILE}: the jobs {', '.join(sorted(seen))} and "
                                   f"{job.name} want what each other provide, so make pipeline has no order to run "
                                   "them in: drop one of those capabilities from uses or requires")
            if name not in seen:
                seen.add(name)
                todo += after[name]


def _check_catalog(catalog: Catalog, directory: Path) -> None:
    owners: dict[str, str] = {}
    for component in catalog.components.values():
        path = directory / component.name / COMPONENT_FILE
        for variable in [*(p.env for p in component.ports), *(v.name for v in component.env)]:
            if variable in owners:
                raise CatalogError(f"{path}: variable {variable} is already declared by {owners[variable]}; prefix it with {component.name.upper().replace('-', '_')}_")
            owners[variable] = component.name
        own = {v.name for v in component.env}
        udp = [p.env for p in component.ports if p.protocol == "udp"]
        if component.job and "omit" not in component.kubernetes:
            raise CatalogError(f"{path}: a job runs to completion, which the Helm chart does not render (it deploys "
                               "services): add kubernetes.omit with the reason, e.g. run it with make pipeline")
        if udp and "omit" not in component.kubernetes:
            raise CatalogError(f"{path}: port {udp[0]} is udp, which the Helm chart's Services and NetworkPolicies do "
                               "not render (TCP only): add kubernetes.omit with the reason, or make the port tcp")
        for capability, data in component.provides.items():
            if not isinstance(data.get("on_demand", False), bool):
                raise CatalogError(f"{path}: provides.{capability}.on_demand is true (provided only where a component "
                                   "requires it and no other provides it) or false")
            checks = data.get("check", [])
            if "check" in data and (not isinstance(checks, list) or not checks
                                    or any(isinstance(c, dict) and "check" in c for c in checks)):
                raise CatalogError(f"{path}: provides.{capability}.check lists the request or exec steps that show, "
                                   "here, what a consumer's round trip wrote ({token}), e.g. [{exec: [sh, -c, 'wget -q "
                                   "-O - http://127.0.0.1:8025/api/v1/search?query={token}'], contains: \"{token}\"}]")
            for step in checks:
                _step(path, f"provides.{capability}.check", step)
            if any("request" in c for c in checks) and not component.http_port:
                raise CatalogError(f"{path}: provides.{capability}.check sends requests, so one of its ports needs http")
            if "volume" in data:
                _check_volume(path, capability, data["volume"])
            if not isinstance(data.get("per_consumer", False), bool):
                raise CatalogError(f"{path}: provides.{capability}.per_consumer is true (each consumer gets one of "
                                   "its own, named after it: {consumer} in the env) or false")
            for key, value in (data.get("env") or {}).items():
                if CONSUMER_NAME.search(str(value)) and not data.get("per_consumer"):
                    raise CatalogError(f"{path}: provides.{capability}.env.{key} names {{consumer}}, which only a "
                                       "capability provided per_consumer has: add per_consumer: true, or remove it")
                # the consumer's own variables (${{CONSUMER}_...}) are checked with each consumer, below
                stray = set(VARIABLE_REFERENCE.findall(OF_CONSUMER.sub("", str(value)))) - own
                if stray:
                    raise CatalogError(f"{path}: provides.{capability}.env.{key} refers to {sorted(stray)}; declare them under env")
        for capability in component.scrapes:
            for provider in catalog.providers(capability):
                data = provider.provides[capability]
                if not (isinstance(data.get("port"), int) and re.match(r"^/\S*$", str(data.get("path", "")))):
                    raise CatalogError(f"{directory / provider.name / COMPONENT_FILE}: provides.{capability} needs the "
                                       f"port and path {component.label} reads it from, e.g. {{port: 9464, path: /metrics}}")
        for capability, data in component.provides.items():
            if "alerts" in data:
                _check_alerts(path, component.name, capability, data["alerts"], catalog)
            if "dashboard" in data:
                _check_dashboard(path, component.name, capability, data["dashboard"], catalog)
            if "log_driver" in data:
                _check_log_driver(path, component, capability, data, catalog)
        for capability in component.wants:
            for provider in catalog.providers(capability):
                data = provider.provides[capability]
                if not data.get("per_consumer"):
                    continue
                wanted = {ref for value in (data.get("env") or {}).values()
                          for ref in VARIABLE_REFERENCE.findall(consumer_form(str(value), component.name))} - \
                    {v.name for v in provider.env}
                if lacking := sorted(wanted - own):
                    raise CatalogError(f"{path}: {provider.name} provides {capability} to each consumer with a "
                                       f"password of the consumer's own: declare {', '.join(lacking)} under env "
                                       "with secret: true")
        if component.processes and (component.job or not component.service):
            raise CatalogError(f"{path}: processes are more containers beside the component's own service; a job or "
                               "a component with service: false has none")
        if component.processes and "omit" not in component.kubernetes:
            raise CatalogError(f"{path}: the Helm chart renders one workload per component, not its processes: add "
                               "kubernetes.omit with the reason")
        if component.runs_jobs and not component.serves:
            raise CatalogError(f"{path}: runs_jobs is for a service that runs the stack's jobs (an orchestrator); "
                               "a job or a component with service: false runs none")
        if catalog.categories[component.category].automatic and not (component.requires and component.provides):
            raise CatalogError(f"{path}: a component of the automatic category {component.category} joins a stack "
                               "by itself: it requires what it attaches to (e.g. requires: [[postgresql-protocol]]) "
                               "and provides what a component of the stack wants (e.g. metrics)")
        if component.build_from and (component.build_image or (component.build_from,) not in component.requires):
            raise CatalogError(f"{path}: build_from names a capability the component requires alone (requires: "
                               f"[[{component.build_from}]]), whose provider's folder builds its image; it has no "
                               "build_image of its own then")
        for capability in [*component.wants, *(cap for group in component.needs for cap in group)]:
            if not catalog.providers(capability):
                raise CatalogError(f"{path}: no component provides '{capability}'; fix the name or add a component that provides it")
        for capability in [*(r["when"] for r in component.round_trips if "when" in r), *component.health_checks,
                           *component.tests.get("round_trips", {})]:
            if capability not in component.wants:
                raise CatalogError(f"{path}: '{capability}' is not among what the component is wired to "
                                   f"({', '.join(component.wants) or 'nothing'}); add it under uses, or fix the name")
        for trip in component.round_trips:
            for step in [*trip.get("write", []), *trip["read"]]:
                for key in ("check", "from"):  # each runs at the provider of the trip's when
                    if key in step and trip.get("when") != step[key]:
                        raise CatalogError(f"{path}: round trip '{trip['name']}': {key}: {step[key]} runs at the "
                                           f"provider of the trip's when; add when: {step[key]}")
                if "check" not in step:
                    continue
                lacking = [p.name for p in catalog.providers(step["check"]) if "check" not in p.provides[step["check"]]]
                if lacking:
                    raise CatalogError(f"{path}: round trip '{trip['name']}' checks {step['check']} at its provider, "
                                       f"but {', '.join(lacking)} declares no provides.{step['check']}.check steps")
        if any("request" in step for r in component.round_trips for step in [*r.get("write", []), *r["read"]]) \
                and not component.http_port:
            raise CatalogError(f"{path}: its round trips send requests, so one of its ports needs http: the path that "
                               "answers when it works (e.g. http: /health)")
    for component in catalog.components.values():
        for variable in component.env:
            if variable.only_for and variable.only_for not in component.provides:
                raise CatalogError(f"{directory / component.name / COMPONENT_FILE}: env.{variable.name}.for is "
                                   f"{variable.only_for}, which {component.name} does not provide: name one of "
                                   f"{sorted(component.provides)}, or remove for:")
    services = {c.name: c.name for c in catalog.components.values()}
    for component in catalog.components.values():
        for service in component.service_names[1:]:
            if service in services:
                raise CatalogError(f"{directory / component.name / COMPONENT_FILE}: process service {service} has "
                                   f"the name of a service of {services[service]}: rename the process")
            services[service] = component.name
    _check_job_order(catalog, directory)
    known = {kw: c.name for c in catalog.components.values() for kw in (c.name, *c.keywords)}
    known.update({kw: cat.name for cat in catalog.categories.values() for kw in cat.phrases})
    for entry in catalog.absent.values():
        path = directory / NOT_IN_CATALOG_FILE
        if entry.closest != NONE and entry.closest not in catalog.components:
            raise CatalogError(f"{path}: the closest component of '{entry.name}', {entry.closest}, is not in the catalog")
        for keyword in entry.keywords:
            if keyword in known:
                raise CatalogError(f"{path}: keyword '{keyword}' of '{entry.name}' already names {known[keyword]}: "
                                   f"a component for it has joined the catalog, so delete the entry of '{entry.name}'")
    for category in catalog.categories.values():
        names = [c.name for c in catalog.in_category(category.name)]
        if category.automatic and (category.default != NONE or category.keywords):
            raise CatalogError(f"{directory / CATEGORIES_FILE}: {category.name} is automatic (never asked): it has no "
                               "default and no keywords")
        if category.capability and (lacking := [n for n in names if category.capability not in catalog.components[n].provides]):
            raise CatalogError(f"{directory / CATEGORIES_FILE}: {category.name} is the capability "
                               f"'{category.capability}', which {', '.join(lacking)} of it does not provide: add it to "
                               "their provides, or remove the category's capability")
        if unknown := [c for c in category.beside if c not in catalog.questions]:
            raise CatalogError(f"{directory / CATEGORIES_FILE}: keywords_beside of {category.name} names {unknown}, "
                               f"which no question asks; the categories asked are {sorted(catalog.questions)}")
        if category.keyword_default not in ("", *names):
            raise CatalogError(f"{directory / CATEGORIES_FILE}: keyword_default '{category.keyword_default}' of "
                               f"{category.name} is not a component of it ({names})")
        if category.default not in (*names, NONE):
            raise CatalogError(f"{directory / CATEGORIES_FILE}: default '{category.default}' of {category.name} is not a component of it ({names})")
