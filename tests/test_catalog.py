"""The catalog and the questionnaire agree, and every component folder is complete."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from projects import CATALOG, REPO, answers_for

from extensions.catalog import NONE, PINNED_IMAGE, CatalogError, load_catalog
from extensions.stack import Stack

QUESTIONS = yaml.safe_load((REPO / "copier.yml").read_text())
SERVICES = REPO / "template" / "services"
OWN_DATABASE = CATALOG.components["postgres"].provides["own-database"]
POSTGRES_ENV = yaml.safe_load((SERVICES / "postgres" / "component.yml").read_text())["env"]


@pytest.mark.parametrize("category", list(CATALOG.questions))
def test_each_category_is_one_question_listing_its_components(category: str) -> None:
    question = QUESTIONS.get(category)
    assert question, f"copier.yml has no question '{category}' for the category in categories.yml"
    choices = [choice["value"] for choice in question["choices"].values()]
    components = [c.name for c in CATALOG.in_category(category)]
    expected = components if CATALOG.categories[category].multiselect else components + [NONE]
    assert sorted(choices) == sorted(expected), f"copier.yml choices of {category} differ from the catalog"
    for label, choice in question["choices"].items():
        # the menu disables a choice the answers so far rule out, with the reason
        assert choice["validator"] == f"{{{{ '{category}' | choice_error('{choice['value']}') }}}}", label
    assert question["default"] == f"{{{{ project_description | suggest('{category}') }}}}"
    assert bool(question.get("multiselect")) == CATALOG.categories[category].multiselect
    if question.get("multiselect"):  # the whole selection too: an empty one where nothing else completes the stack
        assert question["validator"] == f"{{{{ '{category}' | choice_error({category}) }}}}"


def test_every_choice_question_is_a_category() -> None:
    with_choices = [name for name, q in QUESTIONS.items() if isinstance(q, dict) and "choices" in q]
    assert with_choices == list(CATALOG.questions), "questions with choices must be the asked categories, in order"


@pytest.mark.parametrize("name", list(CATALOG.components))
def test_component_folder_is_complete(name: str) -> None:
    component = CATALOG.components[name]
    folder = SERVICES / name
    fragment = (folder / "compose.yaml.jinja").read_text()
    if not component.service:  # no container: its fragment declares the volume of each capability it provides
        volumes = sorted(str(data["volume"]["name"]) for data in component.provides.values() if "volume" in data)
        assert volumes and yaml.safe_load(fragment) == {"volumes": dict.fromkeys(volumes)}, \
            f"{folder}/compose.yaml.jinja of a component with service: false declares its volumes {volumes} only"
        return
    assert re.search(rf"^services:\n  {re.escape(name)}:\n", fragment, re.M), \
        f"{folder}/compose.yaml.jinja must define the service '{name}' (the folder name)"
    assert PINNED_IMAGE.match(component.image)
    if component.build_image:
        dockerfile = (folder / "Dockerfile.jinja").read_text()
        # a build stage in build_image, the runtime in image; one stage when they are the same
        assert "catalog." + name + ".image" in dockerfile
        assert component.build_image == component.image or "catalog." + name + ".build_image" in dockerfile
    for other in CATALOG.components:
        if other != name:
            assert not re.search(rf"(?<![\w-]){re.escape(other)}(?![\w-])", fragment), \
                f"{name}'s fragment names {other}: wire by capability instead"


def test_images_are_pinned_in_every_fragment_and_dockerfile() -> None:
    for path in SERVICES.rglob("*"):
        if path.name.startswith(("compose.yaml", "Dockerfile")):
            for image in re.findall(r"^\s*(?:image:|FROM)\s+(\S+)", path.read_text(), re.M):
                assert image.startswith("{{") or PINNED_IMAGE.match(image), f"{path}: pin {image} to a version"


def _catalog_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "services"
    shutil.copytree(SERVICES, copy)
    return copy


@pytest.mark.parametrize(
    ("edit", "fix"),
    [
        ({"colour": "blue"}, "unknown keys ['colour']"),
        ({"image": "postgres:latest"}, "pinned to an exact version"),
        ({"image": "postgres"}, "pinned to an exact version"),
        ({"category": "databases"}, "is not one of"),
        ({"uses": ["sql-databse"]}, "no component provides 'sql-databse'"),
        ({"ports": [{"env": "REDIS_HOST_PORT", "container": 1, "host": 2, "help": "again"}]}, "is already declared by"),
        ({"ports": [{"env": "PG_PORT", "container": 1, "host": 2, "help": "old name"}]}, "end in _HOST_PORT"),
        ({"ci": {"toolchain": "python", "targets": ["test"]}}, "needs a build_image"),
        ({"ci": {"service": {"port": 5432}}}, "ci.service needs port, health"),
        ({"ci": {"job": "x"}}, "ci may only hold"),
        ({"round_trips": [{"name": "no reads"}]}, "each round trip needs a name and read steps"),
        ({"round_trips": [{"name": "x", "read": [{"request": "FETCH /"}]}]}, "must be a method and a path"),
        ({"round_trips": [{"name": "x", "read": [{"request": "GET /", "exec": ["ls"]}]}]}, "a step is either"),
        ({"round_trips": [{"name": "x", "read": [{"exec": ["ls"], "status": 200}]}]}, "checks its output with contains"),
        ({"round_trips": [{"name": "x", "read": [{"request": "GET /"}]}]}, "one of its ports needs http"),
        ({"round_trips": [{"name": "x", "when": "cache", "read": [{"exec": ["ls"]}]}]}, "'cache' is not among"),
        ({"health_checks": {"cache": "cache"}}, "'cache' is not among"),
        ({"verified": "yes"}, "verified must be one of"),
        ({"runtime": {"memory": "256m"}}, "set runtime.user to the numeric uid:gid the service runs as"),
        ({"kubernetes": {"env": {"PGDATA": "/x"}}}, "kubernetes holds env: variables only the Helm chart sets"),
        ({"kubernetes": {"volumes": []}}, "kubernetes holds env: variables only the Helm chart sets"),
        ({"env": {"PG_HOSTS": {"help": "hosts", "lists_hosts": "yes"}}}, "env.PG_HOSTS.lists_hosts is true or false"),
        ({"env": {"PG_TENANT": {"help": "x", "fro": "warehouse"}}}, "env variable 'PG_TENANT' has unknown keys ['fro']"),
        ({"env": {**POSTGRES_ENV, "PG_TENANT": {"help": "x", "for": "olap"}}},
         "env.PG_TENANT.for is olap, which postgres does not provide: name one of"),
        ({"env": {"PG_TENANT": {"help": "x", "for": ["warehouse"]}}}, "env.PG_TENANT.for names one capability"),
        ({"provides": {"sql-database": {"on_demand": "yes"}}}, "provides.sql-database.on_demand is true"),
        ({"needs": [["task-queu"]]}, "no component provides 'task-queu'"),
        ({"build_from": "celery-app"}, "build_from names a capability the component requires alone"),
        ({"tls": "letsencrypt"}, "tls is acme"),
        ({"round_trips": [{"name": "x", "read": [{"exec": ["ls"], "repeat": 3}]}]}, "checks its output with contains"),
        ({"round_trips": [{"name": "x", "read": [{"request": "GET /", "timeout": 600}]}]}, "timeout must be a whole"),
        ({"round_trips": [{"name": "x", "read": [{"request": "GET /", "repeat": 1}]}]}, "repeat is how many times"),
        ({"round_trips": [{"name": "x", "read": [{"request": "GET /", "json": {}, "body_size": 9}]}]},
         "body_size is a number of bytes"),
        ({"round_trips": [{"name": "x", "read": [{"request": "GET /", "headers": {"X": 1}}]}]}, "maps header names"),
        ({"round_trips": [{"name": "x", "read": [{"request": "PUT /f", "json": {}, "body": "x"}]}]},
         "body is a text sent as the request's raw body"),
        ({"round_trips": [{"name": "x", "read": [{"request": "PUT /f", "body": 7}]}]}, "body is a text"),
        ({"round_trips": [{"name": "x", "read": [{"exec": ["ls"], "body": "x"}]}]}, "checks its output with contains"),
        ({"ci": {"service": {"port": 9000, "health": "true", "test_env": {}, "command": "server /data"}}},
         "ci.service.command lists the arguments"),
        ({"volatile": ["memory"]}, "volatile is one line saying why"),
        ({"round_trips": [{"name": "x", "read": [{"check": "smtp", "contains": "x"}]}]}, "a check step is only check"),
        ({"round_trips": [{"name": "x", "read": [{"check": "smtp"}]}]}, "runs at the provider of the trip's when"),
        ({"provides": {"sql-database": {"check": {"exec": ["ls"]}}}}, "provides.sql-database.check lists the request"),
        ({"provides": {"sql-database": {"check": [{"request": "GET /"}]}}}, "check sends requests, so one of its ports"),
        ({"uses": ["cache"], "round_trips": [{"name": "x", "when": "cache", "read": [{"check": "cache"}]}]},
         "declares no provides.cache.check steps"),
        ({"backup": None}, "a datastore says how make backup saves its data"),
        ({"backup": {"file": "x.dump", "dump": "pg_dump", "restore": "pg_restore"}}, "backup holds file, dump, check"),
        ({"backup": {"file": "x.dump", "dump": "d", "check": "c", "restore": "r", "keep": 3}}, "backup holds file"),
        ({"backup": {"file": "../x", "dump": "d", "check": "c", "restore": "r"}}, "backup.file is the backup's file name"),
        ({"backup": {"file": "x.dump", "dump": "", "check": "c", "restore": "r"}}, "backup.dump is a shell command"),
        ({"backup": {"file": "x.dump", "dump": "d", "check": "c", "restore": "r", "stopped": "yes"}},
         "backup.stopped is true or false"),
        ({"provides": {"sql-database": {}, "own-database": OWN_DATABASE, "metrics": {"port": 9187}}},
         "provides.metrics needs the port and path Prometheus reads it from"),
        ({"provides": {"sql-database": {}, "metrics": {"port": 9187, "path": "/metrics", "alerts": "alerts.yml"}}},
         "add the file '{% if stack.scraped('postgres') %}alerts.yml{% endif %}'"),
        ({"provides": {"sql-database": {}, "metrics": {"port": 9187, "path": "/metrics", "alerts": "../a.yml"}}},
         "provides.metrics.alerts names the file of its alert rules"),
        ({"provides": {"sql-database": {"alerts": "alerts.yml"}}}, "no component scrapes sql-database"),
        ({"ports": [{"env": "POSTGRES_HOST_PORT", "container": 5432, "host": 5432, "help": "x", "local_only": True}]},
         "local_only is one line saying why"),
        ({"kubernetes": {"omit": "a cluster has its own", "env": {}}}, "kubernetes.omit is one line"),
        ({"round_trips": [{"name": "x", "read": [{"targets_up": "api/v1/targets"}]}]}, "a targets_up step is only"),
        ({"round_trips": [{"name": "x", "read": [{"request": "GET /", "from": "cache"}]}]}, "from names the capability"),
        ({"uses": ["cache"], "round_trips": [{"name": "x", "read": [{"exec": ["ls"], "from": "cache"}]}]},
         "runs at the provider of the trip's when"),
        ({"category": "exporter"}, "joins a stack by itself: it requires what it attaches to"),
        ({"ports": [{"env": "POSTGRES_HOST_PORT", "container": 5432, "host": 5432, "help": "x", "protocol": "sctp"}]},
         "protocol is tcp (the default) or udp"),
        ({"ports": [{"env": "POSTGRES_HOST_PORT", "container": 5432, "host": 5432, "help": "x", "protocol": "udp",
                     "http": "/health"}]}, "a udp port answers no HTTP"),
        ({"ports": [{"env": "POSTGRES_HOST_PORT", "container": 5432, "host": 5432, "help": "x", "protocol": "udp"}]},
         "is udp, which the Helm chart's Services and NetworkPolicies do not render"),
    ],
)
def test_catalog_mistakes_are_refused_with_the_fix(tmp_path: Path, edit: dict, fix: str) -> None:
    services = _catalog_copy(tmp_path)
    spec_file = services / "postgres" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec.update(edit)
    spec_file.write_text(yaml.safe_dump(spec))
    with pytest.raises(CatalogError, match=re.escape(fix)):
        load_catalog(services)


def test_a_udp_port_is_published_as_udp_from_the_same_host_ports(tmp_path: Path) -> None:
    """protocol: udp publishes <host>:<container>/udp (127.0.0.1 where local_only), its host port allocated from the
    same numbers as every tcp port (a udp and a tcp listener could share one: kept simple, they never do)."""
    services = _catalog_copy(tmp_path)
    spec_file = services / "postgres" / "component.yml"
    spec = yaml.safe_load(spec_file.read_text())
    spec["ports"].append({"env": "POSTGRES_SYSLOG_HOST_PORT", "container": 5514, "host": [5432], "protocol": "udp",
                          "local_only": "a syslog listener takes lines from anyone", "help": "syslog"})
    spec["kubernetes"] = {"omit": "a cluster runs its own"}
    spec_file.write_text(yaml.safe_dump(spec))
    catalog = load_catalog(services)
    assert [p.protocol for p in catalog.components["postgres"].ports] == ["tcp", "udp"]
    stack = Stack(catalog, answers_for(["postgres"], catalog))
    assert stack.ports == {"POSTGRES_HOST_PORT": 5432, "POSTGRES_SYSLOG_HOST_PORT": 5433}
    assert stack.ports_yaml("postgres") == ('\n    ports:\n      - "127.0.0.1:${POSTGRES_HOST_PORT:-5432}:5432"'
                                            '\n      - "127.0.0.1:${POSTGRES_SYSLOG_HOST_PORT:-5433}:5514/udp"')


@pytest.mark.parametrize(("old", "new", "fix"), [
    ("  automatic: true\n", "  automatic: true\n  keywords: [exporter]\n",
     "exporter is automatic (never asked): it has no default and no keywords"),
    ("  capability: warehouse\n", "  capability: olap\n",
     "warehouse is the capability 'olap', which duckdb of it does not provide"),
])
def test_category_mistakes_are_refused_with_the_fix(tmp_path: Path, old: str, new: str, fix: str) -> None:
    services = _catalog_copy(tmp_path)
    categories = services / "categories.yml"
    assert old in categories.read_text()
    categories.write_text(categories.read_text().replace(old, new))
    with pytest.raises(CatalogError, match=re.escape(fix)):
        load_catalog(services)


def test_catalog_loads_a_new_folder_without_engine_changes(tmp_path: Path) -> None:
    services = _catalog_copy(tmp_path)
    (services / "keydb").mkdir()
    (services / "keydb" / "component.yml").write_text(
        "label: KeyDB\ncategory: cache\nsummary: memory cache\nkeywords: [keydb]\n"
        "image: eqalpha/keydb:6.3.4\ndatastore: true\nprovides:\n  cache: {}\nruntime:\n  user: \"999:999\"\n"
        "backup: {file: keydb.rdb, dump: keydb-cli --rdb -, check: head -c 5 | grep -q REDIS, restore: cat > dump.rdb}\n"
    )
    catalog = load_catalog(services)
    assert [c.name for c in catalog.in_category("cache")] == ["keydb", "memcached", "redis", "valkey"]
    assert [c.name for c in catalog.providers("cache")] == ["keydb", "memcached", "redis", "valkey"]


def test_readme_catalog_table_shows_each_component_and_how_it_was_verified() -> None:
    """The README's catalog table has a row per component, whose last cell is its `verified:` (no claim beyond
    what was run)."""
    readme = (REPO / "README.md").read_text()
    table = readme.split("## The catalog\n\n", 1)[1].split("\n\n", 1)[0]
    rows = {re.search(r"`([a-z][a-z0-9-]*)`", line).group(1): line.rstrip(" |").rsplit("|", 1)[1].strip()
            for line in table.splitlines()[2:]}
    assert rows == {name: c.verified for name, c in CATALOG.components.items()}


def test_the_parse_cache_never_serves_an_edited_file(tmp_path: Path) -> None:
    """load_catalog keeps each file's parsed YAML by its content: an edit is read again, never the old parse."""
    services = _catalog_copy(tmp_path)
    cache = tmp_path / "cache"
    cache.mkdir()
    assert load_catalog(services, cache=cache).components["postgres"].label == "PostgreSQL"
    assert (cache / "stacks-catalog.json").exists()
    spec_file = services / "postgres" / "component.yml"
    spec_file.write_text(spec_file.read_text().replace("label: PostgreSQL", "label: Postgres, edited"))
    assert load_catalog(services, cache=cache).components["postgres"].label == "Postgres, edited"
    assert load_catalog(services, cache=cache).components["postgres"].label == "Postgres, edited"


@pytest.mark.parametrize("keep_trailing_newline", [True, False])
def test_plain_strings_render_as_jinja_would_render_them(keep_trailing_newline: bool) -> None:
    """The extension skips Jinja for strings without its syntax; where Jinja would change them, it does not."""
    from jinja2.sandbox import SandboxedEnvironment

    from extensions.stacks_extension import _render_literals_as_themselves

    strings = ["services", "app.py", "", "line\n", "crlf\r\n", "{{ 6 * 7 }}", "{% if true %}x{% endif %}",
               "{# comment #}y", "a } b { c", "tab\tand üñïcode"]
    plain = SandboxedEnvironment(keep_trailing_newline=keep_trailing_newline)
    fast = SandboxedEnvironment(keep_trailing_newline=keep_trailing_newline)
    _render_literals_as_themselves(fast)
    for text in strings:
        assert fast.from_string(text).render() == plain.from_string(text).render(), repr(text)
