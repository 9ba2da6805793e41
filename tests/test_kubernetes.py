"""The Helm chart of every project (template/chart/, its values from extensions/kubernetes.py) is as strict as
compose.yaml: `helm lint --strict` with the default values and with values that change every knob, the rendered
manifests valid for a current Kubernetes (kubernetes-validate --strict) and clean under checkov's Kubernetes checks
but the four the chart documents, secrets only by reference, and the project's own make targets for it working.
test_generate.py holds every generated stack's chart against its compose.yaml (tests/chart.py). No cluster runs
here: what a cluster would show (pods starting, policies enforced) is not verified."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from chart import NAMESPACE, RELEASE, WORKLOADS, by_kind, check_chart_matches_compose, helm, helm_template
from projects import CATALOG, DEFAULTS, answers_for, read_env
from test_posture import STACKS, generated

from extensions.catalog import CATALOG_DIR
from extensions.kubernetes import KubernetesError, KubernetesView, chart_values
from extensions.stack import Stack

VENV_BIN = Path(sys.executable).parent
KUBERNETES_VERSION = "1.37.0"  # kubernetes-validate's newest schemas, the Kubernetes release of December 2026
CHECKOV_SKIPS = {"CKV_K8S_43", "CKV_K8S_15", "CKV_K8S_40", "CKV_K8S_35"}


def tool(name: str) -> str:
    found = shutil.which(name, path=os.pathsep.join([str(VENV_BIN), os.environ.get("PATH", "")]))
    if not found:
        pytest.fail(f"{name} is not installed: make .venv/installed .venv/bin/helm .venv/bin/checkov (make test does it)",
                    pytrace=False)
    return found


def run(command: list[str], cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}", **env})


def custom_values(project: Path) -> list[str]:
    """The chart's ci/custom-values.yaml, and autoscaling on for every stateless service."""
    services = yaml.safe_load((project / "chart/values.yaml").read_text())["services"]
    sets = [f"services.{name}.autoscaling.enabled=true" for name, s in services.items() if s["kind"] == "Deployment"]
    return ["--values", str(project / "chart/ci/custom-values.yaml"), *(a for s in sets for a in ("--set", s))]


@pytest.fixture
def project(name: str, shared_dir: Path) -> Path:
    return generated(shared_dir, name)


@pytest.mark.parametrize("name", list(STACKS))
def test_chart_lints_and_its_manifests_are_valid_kubernetes(name: str, project: Path, tmp_path: Path) -> None:
    for values in ([], custom_values(project)):
        result = run([helm(), "lint", "--strict", str(project / "chart"), "--namespace", NAMESPACE, *values])
        assert result.returncode == 0, result.stdout + result.stderr
    files = []
    for label, values in (("default", []), ("custom", custom_values(project))):
        manifests = helm_template(project, *values)
        files.append(tmp_path / f"{label}.yaml")
        files[-1].write_text(yaml.safe_dump_all(manifests))
    result = run([tool("kubernetes-validate"), "--strict", "--kubernetes-version", KUBERNETES_VERSION, *map(str, files)])
    assert result.returncode == 0 and "ERROR" not in result.stdout + result.stderr, result.stdout + result.stderr
    assert result.stdout.count(" passed for resource ") == sum(len(list(yaml.safe_load_all(f.read_text()))) for f in files)

    # the custom values reach every knob
    custom = helm_template(project, *custom_values(project))
    for workload in by_kind(custom, *WORKLOADS).values():
        image = workload["spec"]["template"]["spec"]["containers"][0]["image"]
        if "build" in yaml.safe_load((project / "chart/values.yaml").read_text())["services"][workload["metadata"]["name"]]:
            assert image == f"registry.example.com/team/shop-{workload['metadata']['name']}:1.2.3"
        assert workload["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] == "Always"
        if workload["kind"] == "Deployment":
            assert "replicas" not in workload["spec"], "the autoscaler sets the replicas"
        for claim in workload["spec"].get("volumeClaimTemplates", []):
            assert claim["spec"]["storageClassName"] == "fast-ssd"
    deployments = list(by_kind(custom, "Deployment"))
    assert sorted(by_kind(custom, "HorizontalPodAutoscaler")) == sorted(deployments)
    assert sorted(by_kind(custom, "PodDisruptionBudget")) == sorted(deployments)
    for ingress in by_kind(custom, "Ingress").values():
        assert ingress["spec"]["ingressClassName"] == "nginx"
        assert ingress["spec"]["tls"] == [{"hosts": ["app.example.com"], "secretName": "app-example-com-tls"}]
        assert {rule["host"] for rule in ingress["spec"]["rules"]} == {"app.example.com"}
    for policy in by_kind(custom, "NetworkPolicy").values():
        # the ingress controller named: nothing is open to any source any more
        for rule in policy["spec"].get("ingress", []):
            assert rule["from"] and all("podSelector" in peer or peer["namespaceSelector"]["matchLabels"] ==
                                        {"kubernetes.io/metadata.name": "traefik"} for peer in rule["from"])
    for workload in by_kind(custom, *WORKLOADS).values():
        for env in workload["spec"]["template"]["spec"]["containers"][0].get("env", []):
            if "secretKeyRef" in env.get("valueFrom", {}):
                assert env["valueFrom"]["secretKeyRef"]["name"] == "managed-elsewhere"


def test_checkov_finds_nothing_in_any_chart_but_the_documented_exceptions(shared_dir: Path, tmp_path: Path) -> None:
    """One checkov run over every stack's manifests, with default and custom values."""
    for name in STACKS:
        project = generated(shared_dir, name)
        (tmp_path / f"{name}-default.yaml").write_text(yaml.safe_dump_all(helm_template(project)))
        (tmp_path / f"{name}-custom.yaml").write_text(yaml.safe_dump_all(helm_template(project, *custom_values(project))))
    config = generated(shared_dir, next(iter(STACKS))) / "chart/.checkov.yaml"
    result = run([tool("checkov"), "--quiet", "--compact", "--skip-download", "--config-file", str(config),
                  "--directory", str(tmp_path)])
    assert result.returncode == 0 and "Failed checks: 0" in result.stdout, result.stdout[-6000:] + result.stderr
    passed = int(re.search(r"Passed checks: (\d+)", result.stdout).group(1))
    assert passed > 100 * len(STACKS), "checkov read the manifests"
    # the exceptions: these four, each with its reason beside it
    text = config.read_text()
    assert set(yaml.safe_load(text)["skip-check"]) == CHECKOV_SKIPS
    for check in CHECKOV_SKIPS:
        assert re.search(rf"# [^\n]+:[^\n]+\n(  # [^\n]*\n)*  - {check}\n", text), f"{check} has no reason beside it"


def test_a_check_that_checkov_skips_would_be_found(shared_dir: Path, tmp_path: Path) -> None:
    """The skip list is not hiding everything: without it, checkov reports exactly the four skipped checks."""
    project = generated(shared_dir, "defaults-published-datastores")
    (tmp_path / "manifests.yaml").write_text(yaml.safe_dump_all(helm_template(project)))
    result = run([tool("checkov"), "--quiet", "--compact", "--skip-download", "--framework", "kubernetes",
                  "--directory", str(tmp_path)])
    assert result.returncode != 0
    assert set(re.findall(r"Check: (CKV\w+)", result.stdout)) == CHECKOV_SKIPS


def test_rendering_stops_with_the_fix_when_the_secret_name_is_missing(shared_dir: Path) -> None:
    project = generated(shared_dir, "defaults-published-datastores")
    result = run([helm(), "template", RELEASE, str(project / "chart"), "--set", "secrets.name="])
    assert result.returncode != 0
    assert "secrets.name is empty" in result.stderr and "make k8s-secrets" in result.stderr


def test_the_comparison_with_compose_fails_on_each_kind_of_drift(shared_dir: Path, tmp_path: Path) -> None:
    """tests/chart.py is what keeps chart and compose together: each drift below must fail it."""
    original = generated(shared_dir, "defaults-published-datastores")
    drifts = [
        ("fastapi", lambda s: s["user"].update(uid=1234)),
        ("fastapi", lambda s: s["env"].pop()),
        ("postgres", lambda s: s["allowFrom"].append("react")),
        ("postgres", lambda s: s["allowTo"].append("redis")),
        ("redis", lambda s: s["resources"]["limits"].update(memory="1Gi")),
        ("redis", lambda s: s["probes"]["readiness"]["exec"].update(command=["true"])),
        ("react", lambda s: s["emptyDirs"].clear()),
        ("react", lambda s: s.update(readOnlyRootFilesystem=False)),
        ("react", lambda s: s.update(routes=[])),
        ("postgres", lambda s: s["ports"].clear()),
    ]
    for index, (service, drift) in enumerate(drifts):
        project = tmp_path / str(index)
        shutil.copytree(original, project, symlinks=True)
        values_file = project / "chart/values.yaml"
        values = yaml.safe_load(values_file.read_text())
        drift(values["services"][service])
        values_file.write_text(yaml.safe_dump(values, sort_keys=False))
        with pytest.raises(AssertionError):
            check_chart_matches_compose(project)
    check_chart_matches_compose(original)


def dockerfile_user(dockerfile: Path) -> str:
    return re.findall(r"^USER\s+(\S+)", dockerfile.read_text(), re.M)[-1]


@pytest.mark.parametrize("name", [n for n in CATALOG.components if (CATALOG_DIR / n / "Dockerfile.jinja").exists()])
def test_the_chart_runs_a_built_image_as_its_dockerfile_user(name: str, shared_dir: Path) -> None:
    """runtime.user of a built component is its Dockerfile's USER: compose and the chart run it as that user."""
    project = generated(shared_dir, f"{name}-alone")
    assert dockerfile_user(project / "services" / name / "Dockerfile") == CATALOG.components[name].runtime.user


# --- the project's make targets for the chart --------------------------------------------------------------------

def fake(bin_dir: Path, name: str, script: str) -> None:
    """A command that records its arguments (and stdin) under bin_dir/<name>.log, then runs `script`."""
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\necho "$*" >> "{bin_dir}/{name}.log"\n{script}\n')
    path.chmod(0o755)


def test_make_images_builds_and_pushes_each_image_the_chart_runs(shared_dir: Path, tmp_path: Path) -> None:
    project = generated(shared_dir, "defaults-published-datastores")
    fake(tmp_path, "docker", "exit 0")
    result = run(["make", "images", "REGISTRY=registry.example.com/team/", "TAG=1.2.3", "PUSH=1"], cwd=project,
                 PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "docker.log").read_text().splitlines()
    values = yaml.safe_load((project / "chart/values.yaml").read_text())["services"]
    built = {name: s["build"] for name, s in values.items() if "build" in s}
    assert built, "the default stack builds images"
    for name, build in built.items():
        image = f"registry.example.com/team/shop-{name}:1.2.3"
        args = "".join(f"--build-arg {k}={v} " for k, v in (build.get("args") or {}).items())
        assert f"build {args}--tag {image} {build['context']}" in calls
        assert f"push {image}" in calls
    # the page is built for the Ingress: it asks the API under /api/, on its own origin
    assert "--build-arg VITE_API_URL=/api/" in " ".join(calls)
    # without PUSH nothing is pushed; the tag defaults to the chart's appVersion, which the chart uses too
    (tmp_path / "docker.log").unlink()
    result = run(["make", "images"], cwd=project, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "docker.log").read_text()
    assert "push" not in calls and "--tag shop-fastapi:0.1.0 " in calls


def test_make_k8s_secrets_creates_the_secret_from_env_only(shared_dir: Path, tmp_path: Path) -> None:
    project = generated(shared_dir, "defaults-published-datastores")
    kubectl = tool("kubectl")
    # kubectl itself for `create --dry-run=client` (no cluster needed); `apply` records what it would send
    fake(tmp_path, "kubectl", f'if [ "$1" = apply ]; then cat >> "{tmp_path}/applied.yaml"; echo --- >> "{tmp_path}/applied.yaml"; '
                              f'exit 0; fi\nexec "{kubectl}" "$@"')
    result = run(["make", "k8s-secrets", "NAMESPACE=team-shop"], cwd=project,
                 PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode == 0, result.stdout + result.stderr
    documents = [d for d in yaml.safe_load_all((tmp_path / "applied.yaml").read_text()) if d]
    namespace, secret = documents
    assert namespace["kind"] == "Namespace" and namespace["metadata"]["name"] == "team-shop"
    assert secret["kind"] == "Secret"
    assert (secret["metadata"]["name"], secret["metadata"]["namespace"]) == ("shop-env", "team-shop")
    env = read_env(project / ".env")
    stack = Stack(CATALOG, answers_for(list(DEFAULTS.values())))  # a variable for a capability only where it is used
    stack_secrets = {v.name for n in DEFAULTS.values() for v in stack.env_of(CATALOG.components[n]) if v.secret}
    assert {k: base64.b64decode(v).decode() for k, v in secret["data"].items()} == {k: env[k] for k in stack_secrets}
    # the chart reads exactly these keys from the Secret of that name
    manifests = helm_template(project)
    keys = {e["valueFrom"]["secretKeyRef"]["key"] for w in by_kind(manifests, *WORKLOADS).values()
            for e in w["spec"]["template"]["spec"]["containers"][0].get("env", []) if "secretKeyRef" in e.get("valueFrom", {})}
    assert keys == stack_secrets

    # a .env without a value for one of them stops before anything is sent, naming the fix
    broken = tmp_path / "broken"
    shutil.copytree(project, broken, symlinks=True)
    key = sorted(stack_secrets)[0]
    (broken / ".env").write_text(re.sub(rf"^{key}=.*$", f"{key}=", (broken / ".env").read_text(), flags=re.M))
    (tmp_path / "applied.yaml").unlink()
    result = run(["make", "k8s-secrets"], cwd=broken, PATH=f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    assert result.returncode != 0 and f".env has no value for {key}: run make env" in result.stderr
    assert not (tmp_path / "applied.yaml").exists()


def test_make_k8s_check_passes_and_fails_on_a_finding(shared_dir: Path, tmp_path: Path) -> None:
    project = tmp_path / "shop"
    shutil.copytree(generated(shared_dir, "defaults-published-datastores"), project, symlinks=True)
    for command in ("helm", "kubernetes-validate", "checkov"):
        tool(command)
    result = run(["make", "k8s-check", "REQUIRE_VALIDATORS=1"], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Failed checks: 0" in result.stdout and "make k8s-check: passed" in result.stdout
    workloads = project / "chart/templates/workloads.yaml"
    workloads.write_text(workloads.read_text().replace("allowPrivilegeEscalation: false", "allowPrivilegeEscalation: true"))
    result = run(["make", "k8s-check", "REQUIRE_VALIDATORS=1"], cwd=project)
    assert result.returncode != 0 and "make k8s-check: FAILED: checkov" in result.stderr


# --- the derivation itself ---------------------------------------------------------------------------------------

def view(names: list[str]) -> KubernetesView:
    return KubernetesView(CATALOG, answers_for(names))


SERVICE: dict[str, Any] = {"image": "postgres:17.2-alpine", "user": "70:70", "read_only": True,
                           "healthcheck": {"test": ["CMD", "true"]}}


@pytest.mark.parametrize(("service", "fix"), [
    ({**SERVICE, "user": None}, "set runtime.user in its component.yml"),
    ({**SERVICE, "healthcheck": {}}, "has no healthcheck, which the chart turns into probes"),
    ({**SERVICE, "volumes": ["./services/postgres/init.sql:/docker-entrypoint-initdb.d/init.sql:ro"]},
     "mounts the file ./services/postgres/init.sql, which the chart cannot ship yet"),
    ({**SERVICE, "environment": {"URL": "http://localhost:${POSTGRES_HOST_PORT:-5432}"}},
     "refers to POSTGRES_HOST_PORT, which no component's env declares"),
    ({"build": {"context": "x", "args": {"API": "${POSTGRES_USER:-app}"}}, "user": "1:1", "healthcheck": {"test": "true"}},
     "a build argument refers to a .env variable"),
])
def test_what_the_chart_cannot_deploy_is_refused_with_the_fix(service: dict[str, Any], fix: str) -> None:
    with pytest.raises(KubernetesError, match=re.escape(fix)):
        chart_values(view(["postgres"]), {"postgres": service})


def test_the_view_routes_every_path_through_the_ingress_and_deploys_no_proxy() -> None:
    stack = view(["fastapi", "react", "postgres", "nginx"])
    assert [c.name for c in stack.deployed] == ["fastapi", "react", "postgres"]
    assert [(r.path, r.service, r.port) for r in stack.ingress_routes] == [("/api/", "fastapi", 8000), ("/", "react", 8080)]
    # without a proxy in compose, the chart still serves page and API on one origin
    alone = view(["fastapi", "react"])
    assert alone.browser_url("http-api") == "/api/" and alone.browser_origins("fastapi") == ""
    assert alone.published("fastapi") == []


def test_django_answers_the_ingress_host(shared_dir: Path) -> None:
    project = generated(shared_dir, "django-alone")
    for host, expected in (("", "*,localhost,127.0.0.1,django"), ("shop.example.com", "shop.example.com,localhost,127.0.0.1,django")):
        manifests = helm_template(project, "--set-string", f"ingress.host={host}")
        config = next(m for m in manifests if m["kind"] == "ConfigMap")
        assert config["data"]["DJANGO_ALLOWED_HOSTS"] == expected
