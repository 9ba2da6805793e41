"""The interactive questionnaire, driven through a terminal as a person answers it."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import yaml
from projects import CATALOG, REPO

DOWN, ENTER = "\x1b[B", "\r"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def selected(label: str) -> str:
    """The menu's pointer on `label`, whatever colour codes the terminal gets in between."""
    return r"»(?:\s|\x1b\[[0-9;?]*[A-Za-z])*" + re.escape(label)


def none_after(category: str) -> str:
    """The keys that move the menu's pointer from the first component of `category` to "none", its last line."""
    return DOWN * len(CATALOG.in_category(category))


def test_description_sets_the_defaults_and_a_choice_that_cannot_work_is_disabled(tmp_path: Path) -> None:
    destination = tmp_path / "shop"
    copier = Path(sys.executable).with_name("copier")
    session = pexpect.spawn(str(copier), ["copy", "--trust", "--vcs-ref=HEAD", str(REPO), str(destination)],
                            env={**os.environ, "TERM": "xterm"}, encoding="utf-8", timeout=60, dimensions=(50, 250))
    session.expect("Project name")
    session.sendline("")  # the folder's name
    session.expect("Short name")
    session.sendline("")
    session.expect("What is it")
    session.sendline("An nginx proxy in front of a FastAPI service with postgres")
    session.expect("Backend")
    session.expect(selected("FastAPI"))  # suggested by the description
    session.send(none_after("backend") + ENTER)  # ...but this person wants no backend
    for category in ("Frontend", "Database", "Cache", "Message broker", "Background worker", "Data warehouse",
                     "Data ingestion", "Data transformation", "Orchestrator", "BI tool", "Development tools", "Monitoring"):
        session.expect(category)
        session.send(ENTER)
    session.expect("Reverse proxy")
    session.expect(selected("none"))
    menu = ANSI.sub("", session.before)
    # nginx was suggested, but with no backend and no frontend it has nothing to route to
    assert "- Nginx (Nginx needs a backend or a frontend" in menu
    session.send(ENTER)
    session.expect("advanced settings")
    session.sendline("n")
    session.expect(pexpect.EOF)
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    assert (answers["backend"], answers["frontend"], answers["database"], answers["cache"], answers["proxy"]) == \
        ("none", "none", "postgres", "none", "none")
    assert answers["project_name"] == "shop"


def spawn_copier(destination: Path) -> pexpect.spawn:
    copier = Path(sys.executable).with_name("copier")
    return pexpect.spawn(str(copier), ["copy", "--trust", "--vcs-ref=HEAD", str(REPO), str(destination)],
                         env={**os.environ, "TERM": "xterm"}, encoding="utf-8", timeout=60, dimensions=(50, 250))


def test_declining_every_suggestion_never_reaches_a_question_without_an_answer(tmp_path: Path) -> None:
    """Declining the backend after "FastAPI behind nginx" and accepting the rest: at the last question where the
    stack can still be completed, the default is a choice that works (a selection, for a multiselect question,
    whose empty answer the question's validator refuses with the reason), so copier never validates a default the
    menu refuses (it crashed with a traceback, every answer lost)."""
    destination = tmp_path / "shop"
    session = spawn_copier(destination)
    for prompt, answer in (("Project name", ""), ("Short name", ""), ("What is it", "FastAPI behind nginx")):
        session.expect(prompt)
        session.sendline(answer)
    session.expect("Backend")
    session.expect(selected("FastAPI"))
    session.send(none_after("backend") + ENTER)
    for category in ("Frontend", "Database", "Cache", "Message broker", "Background worker", "Data warehouse",
                     "Data ingestion", "Data transformation", "Orchestrator", "BI tool"):
        session.expect(category)
        session.expect(r"»")
        session.send(ENTER)
    session.expect("Development tools")
    session.expect(r"»")
    session.send(ENTER)
    # the last question that can complete the stack: an empty selection would leave the proxy nothing that works,
    # so its default is the fewest tools that make a stack on their own (Prometheus and Alertmanager, neither alone)
    session.expect("Monitoring")
    session.expect(r"»")
    session.send(ENTER)
    session.expect("Reverse proxy")
    session.expect(r"»")
    menu = ANSI.sub("", session.before + session.buffer)
    session.send(ENTER)
    assert "- Nginx (Nginx needs a backend or a frontend" in re.sub(r"\s+", " ", menu), menu
    session.expect("advanced settings")
    session.sendline("n")
    session.expect(pexpect.EOF)
    session.close()
    assert session.exitstatus == 0, ANSI.sub("", session.before)
    answers = yaml.safe_load((destination / ".copier-answers.yml").read_text())
    chosen = [answers[category] for category in ("backend", "frontend", "database", "cache", "tools", "monitoring",
                                                 "proxy")]
    assert chosen == ["none", "none", "none", "none", [], ["prometheus", "alertmanager"], "none"]


def test_help_names_what_the_catalog_lacks_before_the_question(tmp_path: Path) -> None:
    session = spawn_copier(tmp_path / "shop")
    for prompt, answer in (("Project name", ""), ("Short name", ""), ("What is it", "Flask with MySQL and Kafka")):
        session.expect(prompt)
        session.sendline(answer)
    session.expect(r"Backend \(Flask is not in the catalog; the closest is FastAPI; not in the catalog, nor anything "
                   r"like it: Kafka\)")
    session.expect(selected("FastAPI"))
    session.send(ENTER)
    session.expect("Frontend")
    session.send(ENTER)
    session.expect(r"Database \(MySQL is not in the catalog; the closest is MariaDB\)")
    session.expect(selected("MariaDB"))
    session.close(force=True)
