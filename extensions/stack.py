"""The stack a set of answers selects: its components, their wiring by capability, and their host ports.

Everything here is a pure function of the catalog and the answers, so every render of the same answers (copier
renders up to three times during an update) produces the same files.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import yaml

from .catalog import (
    NONE,
    VARIABLE_REFERENCE,
    Catalog,
    Component,
    Port,
    Variable,
    consumer_form,
)
from .ports import HIGHEST_PORT, allocate_ports

MISSING_SECRET = "{name} is not set. Run make env, or set it in .env"
# A public host name: labels of letters, digits and inner hyphens, at least two of them.
DOMAIN = re.compile(r"(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+")
# Rotated logs: json-file, Docker's default driver, keeps every line forever unless told otherwise.
LOG_OPTIONS = {"max-size": "10m", "max-file": "3"}
# Where the stack has a log collector (provides.<capability>.log_driver: gelf), every service sends it its lines over
# UDP, each carrying these Docker labels (its compose project and service: the collector's labels), and the engine
# keeps a copy for docker compose logs (its dual-logging cache), rotated like json-file.
GELF_LABELS = ("com.docker.compose.project", "com.docker.compose.service")


@dataclass(frozen=True)
class Problem:
    question: str  # the question whose answer can fix it, so copier asks again right there
    message: str


@dataclass(frozen=True)
class Route:
    path: str
    service: str
    port: int
    capability: str
    health: str | None = None  # the path below `path` that answers when the service works (its port's http)


@dataclass(frozen=True)
class Edge:
    consumer: str
    provider: str
    capability: str


def joining(catalog: Catalog, names: Any) -> set[str]:
    """The components of automatic categories that join the components `names`: each one where they have all it
    requires and one of them wants something it provides (a database's exporter, where Prometheus scrapes)."""
    chosen = [catalog.components[n] for n in names if n in catalog.components]  # an unknown one is refused elsewhere
    provided = {cap for c in chosen for cap in c.provides}
    wanted = {cap for c in chosen for cap in c.wants}
    return {c.name for c in catalog.automatic()
            if all(provided & set(group) for group in c.requirements) and wanted & set(c.provides)}


def chosen_names(answer: Any) -> list[str]:
    """A category answer as a list of component names: "none", "", None and [] all mean nothing."""
    if isinstance(answer, str):
        return [] if answer in ("", NONE) else [answer]
    if isinstance(answer, (list, tuple)):
        return [a for a in answer if isinstance(a, str) and a not in ("", NONE)]
    return []


def yaml_scalar(value: str) -> str:
    """A YAML double-quoted scalar holding exactly `value`, on one line."""
    return yaml.safe_dump(value, default_style='"', allow_unicode=True, width=float("inf")).rstrip("\n").removesuffix("\n...")


class Stack:
    def __init__(self, catalog: Catalog, answers: Mapping[str, Any]):
        self.catalog = catalog
        names = {name for category in catalog.questions for name in chosen_names(answers.get(category))}
        names |= joining(catalog, names)
        self.components = [c for c in catalog.components.values() if c.name in names]
        self.names = [c.name for c in self.components]
        self.offset = _as_int(answers.get("host_port_offset"))
        self.publish_datastores = bool(answers.get("publish_datastores", False))
        # the public host name a proxy that obtains certificates itself (tls: acme) serves with HTTPS; "" for none
        self.domain = str(answers.get("domain") or "").strip()

    # --- what is in the stack ---------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self.names

    def component(self, name: str) -> Component:
        return self.catalog.components[name]

    def providers(self, capability: str) -> list[Component]:
        """The components of the stack that provide `capability`. One that provides it `on_demand` (Redis as a task
        broker) does only when no other one does and a component of the stack requires it: a cache is not a broker
        for a backend that merely could use one."""
        providing = [c for c in self.components if capability in c.provides]
        dedicated = [c for c in providing if not c.provides[capability].get("on_demand")]
        if dedicated or not any(capability in group for c in self.components for group in c.requirements):
            return dedicated
        return providing

    def built_from(self, name: str) -> str | None:
        """The service whose folder's Dockerfile builds the image of `name`: its own, the provider of its
        `build_from` capability (a worker runs the backend's code), or None for a pinned image."""
        component = self.component(name)
        if component.build_from:
            return next((c.name for c in self.providers(component.build_from)), None)
        return name if component.build_image else None

    def has_capability(self, capability: str) -> bool:
        return bool(self.providers(capability))

    def wiring(self, name: str) -> list[Edge]:
        """What `name` is connected to: every provider in the stack of every capability it wants."""
        return [
            Edge(name, provider.name, capability)
            for capability in self.component(name).wants
            for provider in self.providers(capability)
            if provider.name != name
        ]

    def ci_servers(self, name: str) -> list[Component]:
        """The components wired to `name` that give its CI job a throwaway server (ci.service)."""
        wired = dict.fromkeys(edge.provider for edge in self.wiring(name))
        return [self.component(p) for p in wired if self.component(p).ci.get("service")]

    def wired_env(self, name: str, capability: str) -> list[str]:
        """The variables `name` gets from the providers of `capability` it is wired to: which protocol speaks there
        (REDIS_URL or MEMCACHED_SERVERS for a cache), so that a component's code uses the right client."""
        return [key for edge in self.wiring(name) if edge.capability == capability
                for key in self.component(edge.provider).provides[capability].get("env") or {}]

    def consumes(self, name: str, capability: str) -> bool:
        return self.has(name) and any(edge.capability == capability for edge in self.wiring(name))

    @cached_property
    def edges(self) -> list[Edge]:
        return [edge for c in self.components for edge in self.wiring(c.name)]

    def provided(self, name: str, capability: str) -> bool:
        """Whether a service of the stack is wired to what `name` provides as `capability`: a component serves
        something that only another one reads where one does, without naming it (Nginx's stub_status page, for
        the metrics exporter that joins where the stack scrapes metrics). Only a service this view runs counts:
        the chart's PostgreSQL has no warehouse database where it runs none of the pipeline's jobs."""
        return bool(self.consumers_of(name, capability))

    def consumers_of(self, name: str, capability: str) -> list[str]:
        """The services this view of the stack runs that are wired to what `name` provides as `capability`."""
        return [edge.consumer for edge in self.edges
                if edge.provider == name and edge.capability == capability and self.deploys(edge.consumer)]

    # --- metrics ----------------------------------------------------------------------------------------

    def scrape_targets(self, name: str) -> list[Route]:
        """What `name` scrapes (its `scrapes`): each provider in the stack, at the port and path it declares."""
        return [Route(str(p.provides[cap]["path"]), p.name, int(p.provides[cap]["port"]), cap)
                for cap in self.component(name).scrapes for p in self.providers(cap) if p.name != name]

    def scraped(self, name: str) -> bool:
        """Whether a component of the stack scrapes what `name` provides: its alert rules are generated then."""
        return any(target.service == name for c in self.components for target in self.scrape_targets(c.name))

    def alert_rules(self, name: str) -> list[tuple[str, str]]:
        """(service, file in its folder) of the alert rules of everything `name` scrapes, and its own."""
        scraped = [self.component(t.service) for t in self.scrape_targets(name)] + [self.component(name)]
        return list(dict.fromkeys((c.name, str(data["alerts"])) for c in scraped for data in c.provides.values()
                                  if "alerts" in data))

    @cached_property
    def log_collector(self) -> tuple[str, Port] | None:
        """(Docker logging driver, the port it sends to) of the stack's log collector, the component that provides a
        capability with log_driver (the catalog allows one); None without one: every service keeps json-file."""
        return next(((str(data["log_driver"]), c.port_at(data["port"])) for c in self.components
                     for data in c.provides.values() if "log_driver" in data), None)

    def logging(self) -> tuple[str, dict[str, str]]:
        """The logging driver and options of every service: to the stack's log collector over UDP on 127.0.0.1
        (lines sent while it is down are lost), else json-file; rotated either way."""
        if not self.log_collector:
            return "json-file", LOG_OPTIONS
        driver, port = self.log_collector
        return driver, {f"{driver}-address": f"udp://127.0.0.1:{self.var(port.env)}", "labels": ",".join(GELF_LABELS),
                        **{f"cache-{key}": value for key, value in LOG_OPTIONS.items()}}

    def dashboards(self) -> list[tuple[str, str]]:
        """(service, file in its folder) of each dashboard the stack generates (provides.<capability>.dashboard):
        for a capability a scraper reads (metrics), where the service is scraped, as its alert rules are; for
        another (Prometheus's metrics-query), where a service is wired to it. Grafana loads them all."""
        scraped = {cap for c in self.catalog.components.values() for cap in c.scrapes}
        return [(c.name, str(data["dashboard"])) for c in self.components for cap, data in c.provides.items()
                if "dashboard" in data and (self.scraped(c.name) if cap in scraped else self.provided(c.name, cap))]

    # --- ports ------------------------------------------------------------------------------------------

    @cached_property
    def ports_claimed(self) -> list[tuple[str, tuple[int, ...]]]:
        """Every port the stack declares, published or not, so publishing one later moves none."""
        return [(port.env, port.host) for c in self.components for port in c.ports]

    @cached_property
    def ports(self) -> dict[str, int]:
        return allocate_ports(self.ports_claimed, self.offset)

    def is_published(self, component: Component) -> bool:
        """Datastores only when asked; a service a proxy routes never: the proxy is the one entry point, where the
        frontend finds the API under its path (on a port of its own, the page would ask itself for the API)."""
        if component.datastore:
            return self.publish_datastores or not self.consumers(component.name)
        return not self.routed_by(component.name)

    def consumers(self, name: str) -> list[str]:
        """The services of the stack that use `name`; one that only watches it (a scraper, a metrics exporter that
        joined by itself) does not count. A datastore nothing uses is published on 127.0.0.1 (a database for local
        development), since no service of the stack could reach it otherwise."""
        return [edge.consumer for edge in self.edges if edge.provider == name
                and edge.capability not in self.component(edge.consumer).scrapes
                and self.component(edge.consumer).category in self.catalog.questions]

    def routed_by(self, name: str) -> list[Component]:
        """The proxies of the stack that route a capability `name` provides."""
        provided = self.component(name).provides
        return [c for c in self.components if c.name != name and any(cap in provided for cap in c.routes)]

    def published(self, name: str) -> list[tuple[Port, int, str]]:
        """(port, host port, host address) of each port of `name` that the host can reach."""
        component = self.component(name)
        if not self.is_published(component):
            return []
        return [(port, self.ports[port.env], "127.0.0.1" if component.datastore or port.local_only else "")
                for port in component.ports]

    # --- variables --------------------------------------------------------------------------------------

    def env_of(self, component: Component) -> list[Variable]:
        """The variables of `component` this stack has: all but those for a capability nothing here is wired to."""
        return [v for v in component.env if not v.only_for or self.provided(component.name, v.only_for)]

    @cached_property
    def variables(self) -> dict[str, Variable]:
        return {v.name: v for c in self.components for v in self.env_of(c)}

    @cached_property
    def secret_names(self) -> list[str]:
        return [name for name, v in self.variables.items() if v.secret]

    def var(self, name: str) -> str:
        """Compose's reference to a .env variable, with its default, or an error naming the fix if a secret is missing."""
        if name in self.ports:
            return f"${{{name}:-{self.ports[name]}}}"
        if name not in self.variables:
            raise KeyError(f"{name} is declared under env or ports of no component in this stack: add it to its component.yml")
        variable = self.variables[name]
        if variable.secret:
            return f"${{{name}:?{MISSING_SECRET.format(name=name)}}}"
        return f"${{{name}:-{variable.value}}}"

    def environment(self, name: str) -> dict[str, str]:
        """The variables `name` receives from what it is wired to, e.g. DATABASE_URL from a SQL database; an
        orchestrator (runs_jobs) also those of the jobs it runs."""
        result: dict[str, str] = {}
        for edge in self.wiring(name):
            data = self.component(edge.provider).provides[edge.capability]
            for key, value in (data.get("env") or {}).items():
                if data.get("per_consumer"):
                    value = consumer_form(str(value), name)
                result.setdefault(key, VARIABLE_REFERENCE.sub(lambda m: self.var(m.group(1)), str(value)))
        if self.component(name).runs_jobs:
            for job in self.jobs:
                for key, value in self.environment(job).items():
                    result.setdefault(key, value)
        return result

    def tenants(self, name: str, capability: str) -> list[str]:
        """The consumers that `name` provides `capability` to, each with one of its own (per_consumer): the
        databases and users a PostgreSQL makes, one per consumer, as identifiers (my_app for my-app)."""
        return [consumer.replace("-", "_") for consumer in self.consumers_of(name, capability)]

    def deploys(self, name: str) -> bool:
        """Whether this view of the stack runs `name` (the chart's omits some: kubernetes.KubernetesView)."""
        return self.has(name)

    def depends_on(self, name: str) -> dict[str, str]:
        """Each service `name` waits for, with compose's condition: healthy for what it uses (the backend migrates
        its database at start); started for what a proxy routes to or Prometheus scrapes, since they look the address up
        per request."""
        looked_up = {*self.component(name).routes, *self.component(name).scrapes}
        conditions: dict[str, str] = {}
        for edge in self.wiring(name):
            if not self.component(edge.provider).serves:
                continue  # a file in a volume (DuckDB) has no container; a job is run in order, by make pipeline
            condition = "service_started" if edge.capability in looked_up else "service_healthy"
            if conditions.get(edge.provider) != "service_healthy":
                conditions[edge.provider] = condition
        if self.component(name).runs_jobs:  # what its jobs wait for, it waits for before it runs them
            for job in self.jobs:
                for provider, condition in self.depends_on(job).items():
                    if conditions.get(provider) != "service_healthy":
                        conditions[provider] = condition
        return conditions

    def volumes(self, name: str) -> list[tuple[str, str]]:
        """(volume, mount) of each volume `name` mounts: what the providers it is wired to declare under
        provides.<capability>.volume (DuckDB's file), once each."""
        mounts = {str(v["name"]): str(v["mount"]) for edge in self.wiring(name)
                  if (v := self.component(edge.provider).provides[edge.capability].get("volume"))}
        if self.component(name).runs_jobs:
            for job in self.jobs:
                mounts.update(dict(self.volumes(job)))
        return list(mounts.items())

    def read_only_volumes(self, name: str) -> set[str]:
        """The volumes `name` only reads: every capability it mounts one for says read_only (a reader of the
        warehouse); a volume it is wired to another way too (its writer's) is mounted read-write."""
        edges = [(str(v["name"]), bool(v.get("read_only"))) for edge in self.wiring(name)
                 if (v := self.component(edge.provider).provides[edge.capability].get("volume"))]
        if self.component(name).runs_jobs:
            edges += [(volume, volume in self.read_only_volumes(job)) for job in self.jobs
                      for volume, _ in self.volumes(job)]
        return {volume for volume, _ in edges if all(ro for other, ro in edges if other == volume)}

    @property
    def services(self) -> list[str]:
        """What `make up` starts and keeps running: the services of the components that serve (no job, no
        container-less file), each process of one too."""
        return [service for c in self.components for service in c.service_names]

    def service_of(self, service: str) -> Component:
        """The component a compose service of the stack belongs to (one of its processes, or itself)."""
        return next(c for c in self.components if service in c.service_names)

    @property
    def jobs(self) -> list[str]:
        """The stack's jobs in the order `make pipeline` runs them: one that uses what another provides after it
        (the transformation after the ingestion whose tables it reads), otherwise in catalog order."""
        jobs = [c.name for c in self.components if c.job]
        ordered: list[str] = []
        while len(ordered) < len(jobs):
            ready = [j for j in jobs if j not in ordered and all(
                e.provider in ordered for e in self.wiring(j) if e.provider in jobs)]
            if not ready:  # the catalog refuses a cycle among jobs (_check_job_order); never loop on one
                raise ValueError(f"the jobs {', '.join(j for j in jobs if j not in ordered)} use what each other provide")
            ordered.append(ready[0])
        return ordered

    def env_sections(self) -> list[tuple[Component, list[tuple[str, str, str, str]]]]:
        """For .env.example: per component, (name, help, value, mark) of every variable it reads; the mark is
        "secret" (the hook generates it), "port" (the hook moves it to a free port) or ""."""
        sections = []
        for component in self.components:
            rows = [(port.env, port.help, str(host), "port") for port, host, _ in self.published(component.name)]
            rows += [(v.name, v.help, v.value, "secret" if v.secret else "") for v in self.env_of(component)]
            if rows:
                sections.append((component, rows))
        return sections

    @property
    def retired_keys(self) -> str:
        """The .env keys of catalog components not in the stack, or of a capability of one nothing is wired to any
        more, comma-separated: after `copier update` removed a component, the hook comments its keys out (never
        deletes them)."""
        def keys(component: Component) -> set[str]:
            return {p.env for p in component.ports} | {v.name for v in component.env}

        kept = {p.env for c in self.components for p in c.ports} | set(self.variables)
        return ",".join(sorted(set().union(*(keys(c) for c in self.catalog.components.values())) - kept))

    # --- routing ----------------------------------------------------------------------------------------

    def routes(self, name: str) -> list[Route]:
        """What the reverse proxy `name` serves, longest path first so "/" is the fallback."""
        routes = [
            Route(str(p.provides[cap]["path"]), p.name, int(p.provides[cap]["port"]), cap,
                  getattr(p.port_at(int(p.provides[cap]["port"])), "http", None))
            for cap in self.component(name).routes
            for p in self.providers(cap)
        ]
        return sorted(routes, key=lambda r: (-len(r.path), r.path))

    def http_endpoint(self, name: str) -> tuple[str, str] | None:
        """(host port variable, path prefix) under which the host reaches the HTTP service of `name`: through the
        proxy that routes it, or its own published port; None if the host cannot reach it."""
        for proxy in self.routed_by(name):
            for route in self.routes(proxy.name):
                if route.service == name and proxy.http_port and self.published(proxy.name):
                    return proxy.http_port.env, route.path.rstrip("/")
        port = self.component(name).http_port
        if port and any(p.env == port.env for p, _, _ in self.published(name)):
            return port.env, ""
        return None

    def smoke_endpoints(self) -> list[tuple[str, str, str]]:
        """(service, host port variable, path) of each HTTP service the host reaches: what `make smoke` asks."""
        endpoints = []
        for component in self.components:
            endpoint = self.http_endpoint(component.name)
            if endpoint and component.http_port:
                env, prefix = endpoint
                endpoints.append((component.name, env, prefix + component.http_port.http))
        return endpoints

    def router_in(self, category: str) -> str | None:
        """A component of `category` that would route two or more capabilities the stack provides (a page and the
        API it calls need one origin), the category's default first; None if the stack needs none."""
        provided = {cap for c in self.components for cap in c.provides}
        default = self.catalog.categories[category].default
        routers = sorted(self.catalog.in_category(category), key=lambda c: c.name != default)
        return next((c.name for c in routers if len(provided & set(c.routes)) >= 2), None)

    def public_path(self, capability: str) -> str | None:
        """The path under which a reverse proxy of the stack serves `capability`, if one does."""
        if any(capability in c.routes for c in self.components):
            for provider in self.providers(capability):
                return str(provider.provides[capability].get("path"))
        return None

    def browser_url(self, capability: str, literal: bool = False) -> str:
        """Where a page in the browser reaches `capability`, ending with "/": its path under the stack's reverse
        proxy (same origin), or http://localhost:<host port>/ of its provider's own published port, as a compose
        value (${VAR:-default}, so a port moved in .env is followed on the next build) or, `literal`, with the
        port this generation allocated (for code); "" if the host cannot reach it."""
        path = self.public_path(capability)
        if path:
            return path
        for provider in self.providers(capability):
            container = int(provider.provides[capability]["port"])
            for port, host, _ in self.published(provider.name):
                if port.container == container:
                    return f"http://localhost:{host if literal else self.var(port.env)}/"
        return ""

    def internal_url(self, capability: str) -> str:
        """http://<service>:<port> of the provider of `capability` on the compose network, for server-side code
        (a page rendered on the server asks the API there); "" if the stack has none."""
        for provider in self.providers(capability):
            return f"http://{provider.name}:{int(provider.provides[capability]['port'])}"
        return ""

    def browser_origins(self, name: str) -> str:
        """The origins of the stack's pages (web-ui) that call the API `name` (an http-api) from another origin,
        comma-separated compose values for its CORS setting: each page on its own published port, as localhost
        and 127.0.0.1; "" when a reverse proxy serves them under one origin, or `name` is not reachable from the
        host on its own."""
        if "http-api" not in self.component(name).provides or self.routed_by(name) or not self.published(name):
            return ""
        origins = []
        for page in self.providers("web-ui"):
            if page.name == name or self.routed_by(page.name):
                continue
            container = int(page.provides["web-ui"]["port"])
            for port, _, _ in self.published(page.name):
                if port.container == container:
                    origins += [f"http://localhost:{self.var(port.env)}", f"http://127.0.0.1:{self.var(port.env)}"]
        return ",".join(origins)

    # --- compose fragment snippets: each starts with a newline, to follow `{{-` in a fragment ---------------

    def environment_yaml(self, name: str) -> str:
        return "".join(f"\n      {key}: {yaml_scalar(value)}" for key, value in self.environment(name).items())

    def depends_on_yaml(self, name: str) -> str:
        services = self.depends_on(name)
        if not services:
            return ""
        lines = "".join(f"\n      {service}:\n        condition: {condition}" for service, condition in services.items())
        return "\n    depends_on:" + lines

    def volumes_yaml(self, name: str) -> str:
        mounts, read_only = self.volumes(name), self.read_only_volumes(name)
        return ("\n    volumes:" + "".join(f"\n      - {volume}:{mount}{':ro' if volume in read_only else ''}"
                                           for volume, mount in mounts)) if mounts else ""

    def job_yaml(self, name: str) -> str:
        """A job's command, and the profile that keeps `up` from starting it: `make pipeline` runs it."""
        return ("\n    # A job: it runs to completion when make pipeline runs it (docker compose run --rm), never at up."
                f"\n    profiles: [jobs]\n    command: {json.dumps(list(self.component(name).job))}")

    def ports_yaml(self, name: str) -> str:
        component = self.component(name)
        if not component.ports:
            return ""
        if not self.is_published(component):
            return "\n    # No host ports: a datastore stays private to the stack (advanced setting publish_datastores)."
        lines = "".join(
            f"\n      - \"{address + ':' if address else ''}{self.var(port.env)}:{port.container}"
            f"{'/udp' if port.protocol == 'udp' else ''}\""
            for port, _, address in self.published(name)
        )
        return "\n    ports:" + lines

    def runtime_yaml(self, name: str) -> str:
        """The service's runtime posture from its component.yml (see catalog.RUNTIME_DEFAULTS): a non-root user,
        a read-only root filesystem, no privilege gain, only the capabilities it needs, limits, restarts, logs."""
        runtime = self.component(name).runtime
        lines = [f"# Posture exception ({rule}): {reason}" for rule, reason in runtime.exceptions.items()]
        if runtime.user:
            lines.append(f'user: "{runtime.user}"')
        lines.append(f"read_only: {str(runtime.read_only).lower()}")
        if runtime.tmpfs:
            # Owned by the service's user, which may then set its own modes there (a root-owned mount refuses).
            owner = ":uid={},gid={}".format(*runtime.user.split(":")) if runtime.user and ":" in runtime.user else ""
            lines += ["tmpfs:", *(f"  - {path}{owner}" for path in runtime.tmpfs)]
        lines += ["security_opt:", "  - no-new-privileges:true", "cap_drop:", "  - ALL"]
        if runtime.cap_add:
            lines += ["cap_add:", *(f"  - {cap}  # {reason}" for cap, reason in runtime.cap_add.items())]
        lines += ["deploy:", "  resources:", "    limits:", f"      cpus: {runtime.cpus:g}",
                  f"      memory: {runtime.memory}"]
        restart = '"no"' if runtime.restart == "no" else runtime.restart  # a bare no is YAML's false
        driver, options = self.logging()
        lines += [f"restart: {restart}", "logging:", f"  driver: {driver}", "  options:",
                  *(f'    {key}: "{value}"' for key, value in options.items())]
        return "".join(f"\n    {line}" for line in lines)

    # --- template files -----------------------------------------------------------------------------------

    @property
    def excluded_paths(self) -> str:
        """Folders of components not in the stack, one per line, for copier's _exclude."""
        return "\n".join(f"services/{name}" for name in self.catalog.components if name not in self.names)


def _as_int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def stack_problems(catalog: Catalog, answers: Mapping[str, Any]) -> list[Problem]:
    """Everything that makes these answers an unusable stack, each message naming the fix."""
    problems = []
    order = list(catalog.questions)
    for category in catalog.questions.values():
        allowed = [c.name for c in catalog.in_category(category.name)]
        answer = answers.get(category.name)
        if category.multiselect and isinstance(answer, str) and answer not in ("", NONE):
            answer = [answer]
        if not category.multiselect and isinstance(answer, (list, tuple)):
            problems.append(Problem(category.name, f"{category.name} takes one choice: one of {', '.join(allowed + [NONE])}"))
            continue
        for name in chosen_names(answer):
            if name not in allowed:
                problems.append(Problem(category.name, f"unknown {category.label} '{name}': choose one of {', '.join(allowed + [NONE])}"))
    stack = Stack(catalog, answers)
    if not stack.components and not problems:
        last = list(catalog.questions.values())[-1]
        examples = " or ".join(f"{c.name}={c.default}" for c in catalog.questions.values() if c.default != NONE)
        problems.append(Problem(last.name, f"the stack is empty: choose at least one component, e.g. {examples}"))
    for component in stack.components:
        for group in component.requirements:
            if any(stack.has_capability(cap) for cap in group):
                continue
            providers = [p for cap in group for p in catalog.providers(cap)]
            # a provider that joins by itself (an exporter) comes with what it requires (its database)
            options = [*(p for p in providers if p.category in catalog.questions),
                       *(q for p in providers if p.category not in catalog.questions
                         for needed in p.requires for cap in needed for q in catalog.providers(cap)
                         if q.category in catalog.questions)]
            options = sorted(dict.fromkeys(options), key=lambda p: order.index(p.category))
            asked_at = max([component.category, *(p.category for p in options)], key=order.index)
            needs = " or ".join(dict.fromkeys(f"a {catalog.categories[p.category].label}" for p in options))
            # one choice per category, its default where that provides it: the list stays short as the catalog grows
            by_category: dict[str, str] = {}
            for p in options:
                if p.category not in by_category or catalog.categories[p.category].default == p.name:
                    by_category[p.category] = p.name
            # several may be chosen in a multiselect category: one is added there, not swapped
            single = [f"{category}={name}" for category, name in by_category.items()
                      if not catalog.categories[category].multiselect]
            added = [f"add {name} to {category}" for category, name in by_category.items()
                     if catalog.categories[category].multiselect]
            fixes = " or ".join([*([f"choose {' or '.join(single)}"] if single else []), *added])
            # a choice already made in that category that does not provide it (Memcached for task results)
            lacking = [c.label for c in stack.components if c.category in by_category and c is not component]
            if lacking:
                verb = "does" if len(lacking) == 1 else "do"
                needs = f"{needs} that provides {' or '.join(group)}, which {' and '.join(lacking)} {verb} not"
            drop = (f"remove {component.name} from {component.category}"
                    if catalog.categories[component.category].multiselect else f"set {component.category} to {NONE}")
            problems.append(Problem(asked_at, f"{component.label} needs {needs}: {fixes}, or {drop}"))
    if stack.domain and not DOMAIN.fullmatch(stack.domain):
        problems.append(Problem("domain", f"domain '{stack.domain}' is not a host name: give the public name the "
                                          "stack answers to, such as app.example.com (lowercase letters, digits, "
                                          "hyphens, at least one dot), or leave it empty for plain HTTP"))
    elif stack.domain and not any(c.tls == "acme" for c in stack.components):
        takers = " or ".join(f"proxy={c.name}" for c in catalog.components.values() if c.tls == "acme")
        problems.append(Problem("domain", f"domain needs a reverse proxy that obtains its certificates itself: "
                                          f"choose {takers}, or leave domain empty"))
    preferred = [h for c in stack.components for p in c.ports for h in p.host]
    # Headroom of one port per claim above the highest preference, for the fallbacks of colliding claims.
    largest = HIGHEST_PORT - max(preferred, default=0) - len(stack.ports_claimed)
    if not 0 <= stack.offset <= largest:
        problems.append(Problem("host_port_offset", f"host_port_offset must be a number from 0 to {largest} "
                                                    f"(it is added to every host port, e.g. 10000 turns 5432 into 15432)"))
    return problems


def dead_end(catalog: Catalog, answers: Mapping[str, Any], question: str) -> str:
    """Why no answer to the category questions still unasked (None in `answers`) can complete a working stack
    after this answer to `question`; "" when some can. Asked in order, a choice that leads nowhere must be
    refused where it is made, or the last question would have no answer the menu allows."""
    unasked = [c for c in catalog.questions if c != question and answers.get(c) is None]
    names = [n for category in catalog.questions for n in chosen_names(answers.get(category))]
    if not unasked or _can_complete(catalog, names, frozenset(unasked)):
        return ""
    labels = [catalog.categories[c].label for c in unasked]
    left = " and ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)
    if not names:
        return (f"nothing is chosen yet, and the questions left ({left}) cannot make a working stack on their own: "
                f"choose a {catalog.categories[question].label} here")
    then = stack_problems(catalog, {**answers, **dict.fromkeys(unasked, NONE)})
    why = "; ".join(dict.fromkeys(p.message for p in then))
    return f"whatever the questions left ({left}) are answered, the stack would not work: {why}"


def _can_complete(catalog: Catalog, names: list[str], unasked: frozenset[str]) -> bool:
    """Whether adding components of the unasked categories can meet every requirement of a non-empty stack."""
    provided = {cap for n in [*names, *joining(catalog, names)] for cap in catalog.components[n].provides}
    unmet = [group for n in names for group in catalog.components[n].requirements if not provided & set(group)]
    if names and not unmet:
        return True
    candidates = ([p for cap in unmet[0] for p in catalog.providers(cap)] if unmet
                  else list(catalog.components.values()))
    for candidate in dict.fromkeys(c for c in candidates if c.category in unasked and c.name not in names):
        # a category that takes several components stays open for more
        left = unasked if catalog.categories[candidate.category].multiselect else unasked - {candidate.category}
        if _can_complete(catalog, [*names, candidate.name], left):
            return True
    return False
