"""The Helm chart of a stack: its values, derived from the same catalog and fragments as compose.yaml.

The chart's templates (template/chart/templates/) are generic: they deploy whatever `services:` in values.yaml
describes. This module writes that description, one entry per service, from the service's compose fragment
rendered for Kubernetes (KubernetesView) and its component.yml:

- a service with a named volume is a StatefulSet with a claim per volume, every other one a Deployment;
- the image is the fragment's, or, for a service built from its folder, the one `make images` pushes;
- environment: a value that is a .env variable comes from the Secret (secrets) or the ConfigMap (the rest);
  one that embeds variables (DATABASE_URL) names them as $(VAR), which Kubernetes expands from the variables
  listed before it;
- the healthcheck becomes the readiness probe (the same command); a service with an HTTP port, whose health
  answer also reports what it is wired to, is alive while its port accepts connections;
- user, read-only root filesystem, tmpfs (an emptyDir in memory), capabilities and limits from the posture;
- NetworkPolicies from the wiring: a service accepts connections only from the services wired to it, and the
  ingress controller for what the Ingress routes;
- the Ingress routes every capability whose provider declares a path (`/api/`, `/`), as the proxy components
  do in compose; those are not deployed.

Everything here is pure: the same answers give the same values.
"""

from __future__ import annotations

import math
import re
import shlex
from functools import cached_property
from typing import Any

from .catalog import Component, Variable
from .stack import Route, Stack

# ${NAME}, ${NAME:-default}, ${NAME:?message} and the like: compose's interpolation of a .env variable.
COMPOSE_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:[:?+-][^}]*)?\}")
DURATION = re.compile(r"^(?:(\d+)m)?(?:(\d+)s)?$")
DEFAULT_STORAGE = "1Gi"


class KubernetesError(ValueError):
    """A fragment says something the chart cannot deploy; the message names the service and the fix."""


class KubernetesView(Stack):
    """The stack as the chart deploys it. The Ingress is the entry point: it routes every capability whose
    provider declares a path, so a page and its API share one origin whatever the compose stack does, and the
    components that route (the reverse proxies) are not deployed. No port is published on a host."""

    def is_published(self, component: Component) -> bool:
        return False

    def routed_by(self, name: str) -> list[Component]:
        return []

    def public_path(self, capability: str) -> str | None:
        for provider in self.providers(capability):
            if provider.provides[capability].get("path"):
                return str(provider.provides[capability]["path"])
        return None

    def browser_origins(self, name: str) -> str:
        return ""

    @cached_property
    def deployed(self) -> list[Component]:
        """The components the chart runs: all but the reverse proxies, whose work the Ingress does, and those it
        omits with their reason (kubernetes.omit: Prometheus, where a cluster runs its own), and those with no
        container (service: false: a file its consumers mount)."""
        return [c for c in self.components if not c.routes and not c.kubernetes.get("omit") and c.service]

    @cached_property
    def deployed_names(self) -> set[str]:
        return {c.name for c in self.deployed}

    def deploys(self, name: str) -> bool:
        """Only what the chart deploys (Stack.provided and Stack.tenants count its consumers only)."""
        return name in self.deployed_names

    @cached_property
    def ingress_routes(self) -> list[Route]:
        """Each path the Ingress serves, longest first, as a proxy of the stack would route it."""
        routes = []
        routed = {cap for c in self.catalog.components.values() for cap in c.routes}  # never metrics
        for component in self.deployed:
            for capability, data in component.provides.items():
                if capability in routed and data.get("path") and data.get("port"):
                    routes.append(Route(str(data["path"]), component.name, int(data["port"]), capability))
        return sorted(routes, key=lambda r: (-len(r.path), r.path))


def chart_values(view: KubernetesView, services: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """values.yaml's `config` and `services`: `services` maps each deployed component's name to its compose
    service, as its fragment renders for `view`."""
    config = {v.name: _config_value(v) for v in view.variables.values() if not v.secret}
    entries = {c.name: _service(view, c, services[c.name]) for c in view.deployed}
    return {"config": config, "services": entries}


def _config_value(variable: Variable) -> str:
    if variable.lists_hosts:
        # The host name the Ingress answers to, which the service must accept too; any host when none is set.
        return '{{ .Values.ingress.host | default "*" }},' + variable.value
    return variable.value


def _service(view: KubernetesView, component: Component, service: dict[str, Any]) -> dict[str, Any]:
    name = component.name
    claims = _claims(name, service.get("volumes") or [])
    entry: dict[str, Any] = {"kind": "StatefulSet" if claims else "Deployment"}
    if "build" in service:
        build = service["build"] if isinstance(service["build"], dict) else {"context": service["build"]}
        args = {str(k): "" if v is None else str(v) for k, v in (build.get("args") or {}).items()}
        if any(COMPOSE_REFERENCE.search(v) for v in args.values()):
            raise KubernetesError(f"{name}: a build argument refers to a .env variable, which `make images` does not "
                                  "read: give the image what it needs at run time instead")
        entry["build"] = {"context": str(build["context"]), **({"args": args} if args else {})}
    else:
        entry["image"] = str(service["image"])
    if "entrypoint" in service:
        entry["command"] = _argv(service["entrypoint"])
    if "command" in service:
        entry["args"] = _argv(service["command"])
    entry["ports"] = _ports(component)
    entry["env"] = _env(view, name, {**(service.get("environment") or {}), **component.kubernetes.get("env", {})})
    uid, _, gid = str(service.get("user") or "").partition(":")
    if not uid:
        raise KubernetesError(f"{name}: its fragment names no user: set runtime.user in its component.yml (the uid:gid "
                              f"its image runs as) and end the fragment with stack.runtime_yaml(\"{name}\"); the "
                              "chart runs every container as the non-root user compose names")
    entry["user"] = {"uid": int(uid), "gid": int(gid or uid)}
    entry["readOnlyRootFilesystem"] = bool(service.get("read_only"))
    entry["emptyDirs"] = [str(t).split(":")[0] for t in service.get("tmpfs") or []]
    entry["capabilities"] = [str(c) for c in service.get("cap_add") or []]
    entry["resources"] = _resources(service)
    entry["probes"] = _probes(component, service.get("healthcheck") or {})
    if claims:
        entry["volumes"] = claims
    entry["allowFrom"] = sorted({e.consumer for e in view.edges if e.provider == name and e.consumer in view.deployed_names})
    entry["allowTo"] = sorted({e.provider for e in view.wiring(name) if e.provider in view.deployed_names})
    entry["routes"] = [{"path": r.path, "port": r.port} for r in view.ingress_routes if r.service == name]
    if not claims:
        entry["replicas"] = 1
        entry["autoscaling"] = {"enabled": False, "minReplicas": 2, "maxReplicas": 4, "targetCPUUtilizationPercentage": 75}
    return entry


def _argv(value: Any) -> list[str]:
    """compose's command or entrypoint as an argv; `$$` is compose's escape of a literal `$`."""
    if isinstance(value, str):
        return [part.replace("$$", "$") for part in shlex.split(value)]  # split as compose splits it, no shell
    return [str(part).replace("$$", "$") for part in value]


def _ports(component: Component) -> list[dict[str, Any]]:
    """Every port the component listens on: its ports and what it provides, each named for its Service."""
    numbers = dict.fromkeys([p.container for p in component.ports]
                            + [int(d["port"]) for d in component.provides.values() if d.get("port")])
    http = component.http_port.container if component.http_port else None
    return [{"name": "http" if number == http else f"tcp-{number}", "port": number} for number in numbers]


def _env(view: KubernetesView, name: str, environment: dict[str, Any]) -> list[dict[str, str]]:
    """The container's environment as Kubernetes lists it: a .env variable from the Secret or the ConfigMap,
    anything embedding variables after them, as $(VAR)."""
    direct: list[dict[str, str]] = []
    composed: list[dict[str, str]] = []
    for key, raw in environment.items():
        value = "" if raw is None else str(raw)
        references = COMPOSE_REFERENCE.findall(value)
        for variable in references:
            if variable not in view.variables:
                raise KubernetesError(f"{name}: {key} refers to {variable}, which no component's env declares "
                                      "(a host port has no meaning in the cluster): declare it under env in its "
                                      "component.yml, or leave it out of the fragment when the stack is deployed "
                                      "by the chart")
        whole = COMPOSE_REFERENCE.fullmatch(value)
        if whole:
            direct.append(_from_variable(view, key, whole.group(1)))
        elif references:
            composed.append({"name": key, "value": COMPOSE_REFERENCE.sub(r"$(\1)", value).replace("$$", "$")})
        else:
            direct.append({"name": key, "value": value.replace("$$", "$")})
    listed = {e["name"] for e in direct}
    needed = [v for e in composed for v in re.findall(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", e["value"])]
    helpers = [_from_variable(view, v, v) for v in dict.fromkeys(needed) if v not in listed]
    return direct + helpers + composed


def _from_variable(view: KubernetesView, key: str, variable: str) -> dict[str, str]:
    return {"name": key, "secret" if view.variables[variable].secret else "config": variable}


def _resources(service: dict[str, Any]) -> dict[str, Any]:
    limits = ((service.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    cpus = float(limits.get("cpus", 0.5))
    memory = _quantity(str(limits.get("memory", "256m")))
    # Memory requested as much as the limit (never evicted for using what it may); a quarter of the CPU limit.
    return {"limits": {"cpu": _cpu(cpus), "memory": memory},
            "requests": {"cpu": _cpu(cpus / 4), "memory": memory}}


def _cpu(cpus: float) -> str:
    millis = max(10, round(cpus * 1000))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _quantity(size: str) -> str:
    """compose's 512m (MiB) as Kubernetes' 512Mi."""
    number, unit = size[:-1], size[-1].lower()
    return number + {"k": "Ki", "m": "Mi", "g": "Gi"}[unit] if unit in "kmg" else size


def _seconds(duration: Any, default: int) -> int:
    match = DURATION.match(str(duration or ""))
    if not duration or not match or not any(match.groups()):
        return default
    minutes, seconds = (int(g or 0) for g in match.groups())
    return max(1, minutes * 60 + seconds)


def _probes(component: Component, healthcheck: dict[str, Any]) -> dict[str, Any]:
    """Readiness: the healthcheck's own command. Liveness: for a service with an HTTP port, whose health answer
    also reports what it is wired to (a database down must not restart the API), its port accepting connections;
    otherwise the same command. Startup: liveness, given the healthcheck's start period on top."""
    test = healthcheck.get("test")
    if not test:
        raise KubernetesError(f"{component.name}: its fragment has no healthcheck, which the chart turns into probes")
    if isinstance(test, str):
        command = ["sh", "-c", test.replace("$$", "$")]
    elif test[0] == "CMD-SHELL":
        command = ["sh", "-c", str(test[1]).replace("$$", "$")]
    else:
        command = [str(part).replace("$$", "$") for part in test[1:]]
    period = _seconds(healthcheck.get("interval"), 30)
    timing = {"periodSeconds": period, "timeoutSeconds": _seconds(healthcheck.get("timeout"), 30),
              "failureThreshold": int(healthcheck.get("retries", 3))}
    readiness = {"exec": {"command": command}, **timing}
    http = component.http_port
    liveness = {"tcpSocket": {"port": http.container}, **timing} if http else dict(readiness)
    start = _seconds(healthcheck.get("start_period"), 0)
    startup = {**liveness, "failureThreshold": timing["failureThreshold"] + math.ceil(start / period)}
    return {"readiness": readiness, "liveness": liveness, "startup": startup}


def _claims(name: str, volumes: list[Any]) -> list[dict[str, str]]:
    """A claim of the StatefulSet for each named volume. A file of the project mounted into the container would
    need a ConfigMap, which no deployed component uses yet."""
    claims = []
    for volume in volumes:
        source, _, rest = str(volume if isinstance(volume, str) else f"{volume.get('source')}:{volume.get('target')}").partition(":")
        target = rest.split(":")[0]
        if source.startswith((".", "/")):
            raise KubernetesError(f"{name}: it mounts the file {source}, which the chart cannot ship yet: give the "
                                  "chart a ConfigMap for it (extensions/kubernetes.py) or build the file into the image")
        claims.append({"name": source, "mountPath": target, "size": DEFAULT_STORAGE})
    return claims
