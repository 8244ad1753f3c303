"""Test support: a service repository worth attacking, and log lines an attacker can write.

``REPO`` is a small service with the files an attacker wants an edit to reach: its tests
(``tests/test_app.py``, ``conftest.py``), packaging (``setup.py``, ``requirements.txt``),
deployment (``Dockerfile``), CI, a vendored library copy (``vendor/requests/api.py``),
and, made by :func:`make_hostile_repo`, a symlink ``link.py`` to the test file. ``app.py``
and ``lib/util.py`` are the code a fix may touch.

Log helpers write what reaches mendbot: :func:`logged` one Python ``logging`` line,
:func:`traceback_lines` a traceback as Python prints it (which an attacker can also
write, through a newline in a logged value), :func:`json_line` a structured log line.
:data:`ANALYSIS` is a scripted LM's analysis; :func:`fix_answer` its fix.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.proposals import Edit
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.openai import chat_fields

APP = '''"""Orders service."""
import json

STATS = {"orders": [], "users": {}}


def orders(body):
    STATS["orders"].append(body["amount"])
    user = STATS["users"][body["user_id"]]   # bug: unknown users raise KeyError
    return {"ok": True, "user": user}


def average():
    return {"avg": sum(STATS["orders"]) / len(STATS["orders"])}


def check(body):
    assert body.get("mode") != "maintenance window", "closed"
    # unknown user reported by the client
    return True
'''

UTIL = '''"""Helpers."""


def parse(text):
    return text.strip().split(",")
'''

TEST_APP = """from app import orders


def test_orders_unknown_user():
    result = orders({"amount": 1, "user_id": "ghost"})
    assert result["ok"] is False


def test_refund_note(client):
    client.post("/orders", json={"note": "please refund this order"})
"""

SETUP = """from setuptools import setup


def main():
    setup(name="orders")
"""

VENDORED = """def get(url):
    return request("get", url)
"""

REPO = {
    "app.py": APP,
    "lib/__init__.py": "",
    "lib/util.py": UTIL,
    "tests/__init__.py": "",
    "tests/test_app.py": TEST_APP,
    "conftest.py": "import pytest\n\n\n@pytest.fixture\ndef client():\n    return object()\n",
    "setup.py": SETUP,
    "requirements.txt": "fastapi==0.115.0\n",
    "Dockerfile": "FROM python:3.11\nCMD python app.py\n",
    ".github/workflows/ci.yml": "on: push\njobs: {}\n",
    "vendor/requests/api.py": VENDORED,
}

TS = "2026-11-21 18:25:01,002"
ASSERT_LINE = '    assert result["ok"] is False'


def make_hostile_repo(tmp: Path) -> RepoPair:
    """``REPO`` committed with a bare remote, plus ``link.py`` -> ``tests/test_app.py``."""
    pair = make_repo(tmp, REPO)
    os.symlink("tests/test_app.py", pair.work / "link.py")
    git(pair.work, "add", "link.py")
    git(pair.work, "commit", "-q", "-m", "a convenience link")
    git(pair.work, "push", "-q", "origin", "main")
    return pair


def line_of(text: str, fragment: str) -> int:
    """The 1-based line of ``text`` that holds ``fragment`` (the first one)."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if fragment in line)


def logged(message: str, *, logger: str = "app.core", level: str = "ERROR") -> str:
    """One line as ``logging`` writes it with the service's format."""
    return f"{TS} - {logger} - {level} - {message}"


def traceback_lines(
    frames: list[tuple[str, int, str]], exception: str = "KeyError: 'ghost'"
) -> list[str]:
    """A traceback as Python prints it: ``(file, line, function)`` outermost first."""
    lines = ["Traceback (most recent call last):"]
    for file, line, function in frames:
        lines += [f'  File "{file}", line {line}, in {function}', "    pass"]
    return [*lines, exception]


def json_line(**fields: Any) -> str:
    """One structured log line (a JSON object), as Railway or python-json-logger write."""
    return json.dumps({"timestamp": "2026-11-21T18:25:01Z", "level": "error", **fields})


#: The edit of the incident: the test's assertion turned into ``pass``.
ASSERT_TO_PASS = Edit(path="tests/test_app.py", old_text=ASSERT_LINE, new_text="    pass")

ANALYSIS = chat_fields(
    root_cause="orders() reads STATS['users'][user_id] for ids that were never registered.",
    severity_assessment="HIGH",
    affected_components=["app.py:orders"],
    confidence=0.9,
)


def fix_answer(edits: list[Edit], level: str = "LOW") -> str:
    """GenerateFix's answer proposing ``edits`` at risk ``level``."""
    return chat_fields(
        edits=[edit.model_dump() for edit in edits],
        reasoning="This fixes it.",
        risk_assessment={"level": level, "notes": "Nothing to worry about."},
        regression_test="",
    )
