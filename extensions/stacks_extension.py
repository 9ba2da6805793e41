"""The Jinja side of stacks, loaded by copier through copier-template-extensions (see copier.yml).

It puts `catalog` (component name -> its component.yml) and `stack` (what the answers select, wired) into every
render, and registers the filters the questionnaire and the templates use. Secrets are deliberately not offered
to templates: a secret rendered by Jinja would change on every render, and so on every `copier update`; the hook
generates them into .env once (credentials.py).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
import unicodedata
import uuid
from functools import lru_cache
from itertools import combinations
from pathlib import Path
from typing import Any

import jinja2
import yaml
from copier_template_extensions import ContextHook
from jinja2 import FileSystemBytecodeCache, pass_context

HERE = Path(__file__).resolve().parent
# The context key under which a fragment rendered for the Helm chart gets its stack (see StacksExtension.hook).
KUBERNETES_VIEW = "_stacks_kubernetes_view"
MAX_NAME_LENGTH = 80
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
LINE_BREAKS = "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"


def _load_engine() -> Any:
    """Import this folder as a package under a fresh name.

    A test session renders several versions of the template in one process; each must run its own code, not
    the modules an earlier one left in sys.modules (this file itself is executed afresh every time).
    """
    name = f"stacks_engine_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, HERE / "__init__.py", submodule_search_locations=[str(HERE)])
    package = importlib.util.module_from_spec(spec)
    sys.modules[name] = package
    spec.loader.exec_module(package)
    for module in ("catalog", "keywords", "stack", "kubernetes"):
        setattr(package, module, importlib.import_module(f"{name}.{module}"))
    return package


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:63].rstrip("-")
    return slug or "project"


def project_name_error(name: Any) -> str:
    name = str(name)
    if not name.strip():
        return "enter a project name"
    if any(ch in LINE_BREAKS for ch in name):
        return "the project name must fit on one line"
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        return "remove the control characters (tabs, escapes) from the project name"
    if len(name) > MAX_NAME_LENGTH:
        return f"shorten the project name to {MAX_NAME_LENGTH} characters at most (it has {len(name)})"
    return ""


def project_slug_error(slug: Any) -> str:
    if SLUG.match(str(slug)):
        return ""
    return (f"'{slug}' cannot name a compose project, a host and a package: use 1 to 63 lowercase letters, digits "
            "and hyphens, starting and ending with a letter or digit, e.g. my-project")


class _PlainDumper(yaml.SafeDumper):
    """YAML for people: a value written twice is written twice, never as an anchor and an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)  # a list indented under its key, as yamllint expects


def to_yaml(value: Any) -> str:
    """`value` as block-style YAML in the order given, lists indented under their key."""
    text = yaml.dump(value, Dumper=_PlainDumper, sort_keys=False, width=120, allow_unicode=True, indent=2)
    return text.rstrip("\n")


def toml_str(value: Any) -> str:
    """A TOML basic string holding exactly `value`."""
    escapes = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
    out = []
    for ch in str(value):
        if ch in escapes:
            out.append(escapes[ch])
        elif unicodedata.category(ch) == "Cc":
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def make_sh(value: Any) -> str:
    """`value` as one word of a shell command in a Makefile recipe: quoted for the shell, `$` doubled for make."""
    return shlex.quote(str(value)).replace("$", "$$")


def py_str(value: Any) -> str:
    """A Python string literal holding exactly `value`."""
    return repr(str(value))


def _cache_compiled_strings(environment: Any) -> None:
    """Compile each distinct template string once.

    Copier renders every segment of every path ("services", "app", ...) and the answers file name with
    `from_string`, which Jinja compiles anew each time: hundreds of compiles of a few dozen strings, most of
    a copy's rendering time. The compiled code depends only on the arguments, so it can be reused.
    """
    compile_source = environment.compile

    @lru_cache(maxsize=1024)
    def compile_once(source: str, name: str | None = None, filename: str | None = None,
                     raw: bool = False, defer_init: bool = False) -> Any:
        return compile_source(source, name, filename, raw, defer_init)

    environment.compile = compile_once


class _TemplateBytecodeCache(FileSystemBytecodeCache):
    """Jinja's per-user cache of compiled templates, keyed by the template's path inside the template folder (copier
    works on a fresh clone in a new temporary folder each time, which the default key, the full path, includes)
    and by the environment's options that change compiled code. Jinja checks each entry against a checksum of
    the source, so a stale one is recompiled, never used."""

    def __init__(self, environment: Any) -> None:
        super().__init__()
        options = (environment.block_start_string, environment.variable_start_string,
                   environment.comment_start_string, environment.line_statement_prefix,
                   environment.line_comment_prefix, environment.trim_blocks, environment.lstrip_blocks,
                   environment.newline_sequence, environment.keep_trailing_newline, environment.optimized,
                   str(environment.autoescape), jinja2.__version__)
        self.options = repr(options)

    def get_cache_key(self, name: str, filename: str | None = None) -> str:
        return super().get_cache_key(f"stacks:{self.options}:{name}")


class _Literal:
    """What `from_string` gives for a string without Jinja syntax: it renders to itself, with no compiling."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def render(self, *args: Any, **kwargs: Any) -> str:
        return self.text


def _render_literals_as_themselves(environment: Any) -> None:
    """Most strings copier renders are plain (path segments such as "services" or "app.py", help texts): skip
    Jinja for them. Only where Jinja would give the same text: no delimiter, no line prefixes, no newline that
    Jinja would strip or normalise."""
    from_string = environment.from_string
    markers = (environment.block_start_string, environment.variable_start_string, environment.comment_start_string)
    plain_ok = environment.line_statement_prefix is None and environment.line_comment_prefix is None

    def from_string_fast(source: Any, globals: Any = None, template_class: Any = None) -> Any:
        if (plain_ok and isinstance(source, str) and globals is None and template_class is None
                and "\r" not in source and (environment.keep_trailing_newline or not source.endswith("\n"))
                and not any(marker in source for marker in markers)):
            return _Literal(source)
        return from_string(source, globals, template_class)

    environment.from_string = from_string_fast


def in_git_work_tree(path: Any) -> bool:
    """Whether `path` is inside a git work tree that would track it (copier recopy, a folder of a repository);
    not where git ignores it (make demo writes demo/ inside this repository, which ignores it)."""
    folder = str(Path(str(path)).resolve())
    try:
        inside = subprocess.run(["git", "-C", folder, "rev-parse", "--is-inside-work-tree"], capture_output=True,
                                text=True, timeout=30)
        if inside.returncode or inside.stdout.strip() != "true":
            return False
        return subprocess.run(["git", "-C", folder, "check-ignore", "-q", "."], capture_output=True,
                              timeout=30).returncode != 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _answers_all_given(context: Any) -> bool:
    """Whether copier asks nothing (--defaults): every answer is a default or given with -d / --data-file."""
    conf = context.get("_copier_conf")
    try:
        return bool(conf["defaults"])
    except (KeyError, TypeError):
        return False


def _answers_key(answers: dict[str, Any]) -> tuple:
    """The answers as a key for the caches of what they select (a multiselect answer is a list)."""
    return tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in answers.items())


class StacksExtension(ContextHook):
    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        engine = _load_engine()
        self.engine = engine
        # The template files' compiled code, kept between runs in Jinja's own per-user cache (in the temporary
        # folder): a second copy, or an update's three renders, compile nothing. The catalog's parsed YAML is kept
        # there too.
        if environment.bytecode_cache is None:
            environment.bytecode_cache = _TemplateBytecodeCache(environment)
        cache = getattr(environment.bytecode_cache, "directory", None)
        self.catalog = engine.catalog.load_catalog(cache=Path(cache) if cache else None)
        # The component folders as copier's template loader names them: relative to the template's root.
        fragments = engine.catalog.CATALOG_DIR.relative_to(HERE.parent).as_posix()
        self._stacks: dict[tuple, Any] = {}
        self._charts: dict[tuple, Any] = {}
        suggest_stack = lru_cache(maxsize=32)(lambda description: engine.keywords.suggest_stack(description, self.catalog))

        def problems_at(answers: dict[str, Any], question: str) -> str:
            problems = engine.stack.stack_problems(self.catalog, answers)
            return "; ".join(p.message for p in problems if p.question == question)

        @pass_context
        def choice_error(context: Any, category: str, choice: str | list[str]) -> str:
            """Why `choice` (a list: the whole answer of a multiselect) cannot be the answer to `category` given the
            answers so far; "" if it can.

            Copier disables such a choice in the menu with this reason and refuses it from -d or a default. Asked
            one question at a time, a choice after which no answer to the questions left can make a working stack
            is refused too, or the last question would have no answer the menu allows; with --defaults every
            answer is known at once, and the problem is named where it lies.
            """
            if not (isinstance(choice, str) and self.catalog.categories[category].multiselect):
                return "; ".join(why_not(context, category, choice))
            why = one_of_several(context, category, choice)
            others = [c.name for c in self.catalog.in_category(category) if c.name != choice]
            # A checkbox menu whose every choice is disabled crashes the prompt (questionary): then each stays
            # selectable, and the question's own validator refuses a selection with the same reason.
            if why and all(one_of_several(context, category, other) for other in others):
                return ""
            return why

        def one_of_several(context: Any, category: str, choice: str) -> str:
            """Why `choice` cannot be part of the selection of the multiselect `category`: what it brings that the
            other choices together do not (Alertmanager alone needs Prometheus; beside it, not)."""
            if not why_not(context, category, choice):
                return ""
            others = [c.name for c in self.catalog.in_category(category) if c.name != choice]
            without = why_not(context, category, others) if others else []
            return "; ".join(r for r in why_not(context, category, [choice, *others]) if r not in without)

        def why_not(context: Any, category: str, choice: str | list[str]) -> list[str]:
            answers = {**self._answers(context), category: choice}
            problems = engine.stack.stack_problems(self.catalog, answers)
            reasons = [p.message for p in problems if p.question == category]
            if reasons or _answers_all_given(context):
                return reasons
            dead_end = engine.stack.dead_end(self.catalog, answers, category)
            return [dead_end] if dead_end else []

        @pass_context
        def suggest(context: Any, description: Any, category: str) -> Any:
            """The description's suggestion for `category`, or, when the answers so far rule it out, the first
            choice they allow, so the default is always one the menu offers."""
            suggestion = suggest_stack(str(description or ""))[category]
            others = [c.name for c in self.catalog.in_category(category)]
            if self.catalog.categories[category].multiselect:
                # the suggestion, or with the fewest more components that complete the stack where nothing else
                # could (Prometheus and Alertmanager make one together, neither alone)
                rest = [c for c in others if c not in suggestion]
                candidates = [[*suggestion, *more] for size in range(len(rest) + 1)
                              for more in combinations(rest, size)]
                return next((c for c in candidates if not choice_error(context, category, c)), suggestion)
            if suggestion == "none" and not engine.keywords.refuses(str(description or ""), category, self.catalog):
                suggestion = self._stack(context).router_in(category) or suggestion
            candidates = dict.fromkeys([suggestion, self.catalog.categories[category].default, *others, "none"])
            return next((c for c in candidates if not choice_error(context, category, c)), suggestion)

        @pass_context
        def stack_error(context: Any, question: str) -> str:
            return problems_at(self._answers(context), question)

        def absent_note(description: Any, category: str) -> str:
            """For the help of `category`'s question: what the description names that the catalog lacks (the
            first category's question also names those of no category)."""
            absent = engine.keywords.absent_mentions(str(description or ""), self.catalog)
            own = [a for a in absent if a.category == category]
            notes = []
            if own:
                closest = self.catalog.components.get(own[0].closest)
                notes.append(f"{' and '.join(a.label for a in own)} {'is' if len(own) == 1 else 'are'} not in the "
                             "catalog" + (f"; the closest is {closest.label}" if closest else ""))
            uncategorised = [a.label for a in absent if a.category == "none"]
            if uncategorised and category == next(iter(self.catalog.questions)):
                notes.append(f"not in the catalog, nor anything like it: {', '.join(uncategorised)}")
            return f" ({'; '.join(notes)})" if notes else ""

        @pass_context
        def not_in_catalog(context: Any, description: Any) -> list[str]:
            """One sentence per technology the description names that the catalog lacks, and what the stack
            has instead: for the after-copy message and the project's README."""
            stack = context.get("stack") or self._stack(context)
            sentences = []
            for absent in engine.keywords.absent_mentions(str(description or ""), self.catalog):
                if absent.category == "none":
                    sentences.append(f"{absent.label} is not in the stacks catalog, nor anything like it.")
                    continue
                label = self.catalog.categories[absent.category].label
                instead = [c.label for c in stack.components if c.category == absent.category]
                sentences.append(f"{absent.label} is not in the stacks catalog: the {label} is {' and '.join(instead)} instead."
                                 if instead else f"{absent.label} is not in the stacks catalog, and this stack has no {label}.")
            return sentences

        environment.filters.update(
            slugify=slugify,
            project_name_error=project_name_error,
            project_slug_error=project_slug_error,
            suggest=suggest,
            choice_error=choice_error,
            stack_error=stack_error,
            absent_note=absent_note,
            not_in_catalog=not_in_catalog,
            in_git_work_tree=in_git_work_tree,
            yaml_str=engine.stack.yaml_scalar,
            toml_str=toml_str,
            py_str=py_str,
            make_sh=make_sh,
            sh_quote=shlex.quote,
        )
        @pass_context
        def kubernetes(context: Any) -> dict[str, Any]:
            """The Helm chart's values for these answers: each deployed component's fragment rendered as the
            chart deploys the stack (engine.kubernetes.KubernetesView), turned into a service of the chart."""
            answers = self._answers(context)
            key = _answers_key(answers)
            if key not in self._charts:
                view = engine.kubernetes.KubernetesView(self.catalog, answers)
                variables = {**context.get_all(), KUBERNETES_VIEW: view}
                services = {}
                for component in view.deployed:
                    fragment = environment.get_template(f"{fragments}/{component.name}/compose.yaml.jinja")
                    services[component.name] = yaml.safe_load(fragment.render(variables))["services"][component.name]
                self._charts[key] = engine.kubernetes.chart_values(view, services)
            return self._charts[key]

        environment.globals["kubernetes"] = kubernetes
        environment.filters["to_yaml"] = to_yaml
        # The project gets a copy of the hook (.stacks/), so `make compose` and `make env` work offline.
        environment.globals["template_file"] = lambda path: (HERE.parent / path).read_text(encoding="utf-8")
        _cache_compiled_strings(environment)
        _render_literals_as_themselves(environment)

    def _answers(self, context: Any) -> dict[str, Any]:
        keys = [*self.catalog.questions, "host_port_offset", "publish_datastores", "domain"]
        return {key: context.get(key) for key in keys}

    def _stack(self, context: Any) -> Any:
        answers = self._answers(context)
        key = _answers_key(answers)
        if key not in self._stacks:
            self._stacks[key] = self.engine.stack.Stack(self.catalog, answers)
        return self._stacks[key]

    def hook(self, context: dict[str, Any]) -> None:
        # A fragment rendered for the Helm chart brings its own stack, the Kubernetes view of these answers.
        context["stack"] = context.get(KUBERNETES_VIEW) or self._stack(context)
        context["catalog"] = self.catalog.components
