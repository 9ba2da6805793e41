"""The interactive questionnaire, driven through a terminal as a person answers it."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pexpect
import yaml
from projects import REPO

DOWN, ENTER = "\x1b[B", "\r"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def selected(label: str) -> str:
    """The menu's pointer on `label`, whatever colour codes the terminal gets in between."""
    return r"»(?:\s|\x1b\[[0-9;?]*[A-Za-z])*" + re.escape(label)


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
    session.send(DOWN + ENTER)  # ...but this person wants no backend
    for category in ("Frontend", "Database", "Cache"):
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
