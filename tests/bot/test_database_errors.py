"""An unusable database stops every command that opens it (``scan``, ``run``, ``fixes``,
``stats``, ``learn``, ``eval --program``) with one line and exit 2.

Read-only, corrupt, unreachable (PostgreSQL on a closed port) and older-schema databases,
through the real command line in a child process. Nothing is lost: the database file is
left byte for byte, and the configured log file is not consumed (a later scan with a good
database reads all of it).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fixes.persistence.db import Database, SchemaMismatch
from fixes.persistence.errors import DatabaseUnusable
from tests.conftest import ROOT

EXCERPT = ROOT / "tests" / "data" / "asgi_excerpt.log"
PREFIX = "mendbot: cannot open the database (DATABASE_URL): "


def _read_only(tmp_path: Path) -> str:
    path = tmp_path / "ro.db"
    Database(f"sqlite:///{path}").dispose()  # a good database, opened read-only
    return f"sqlite:///file:{path}?mode=ro&uri=true"


def _corrupt(tmp_path: Path) -> str:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"SQLite format 2\x00" + bytes(range(256)) * 16)
    return f"sqlite:///{path}"


def _unreachable(tmp_path: Path) -> str:
    return "postgresql://mendbot:s3cret-pw@127.0.0.1:1/mendbot"


def _old_schema(tmp_path: Path) -> str:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE proposals (id VARCHAR PRIMARY KEY, status VARCHAR)")
    return f"sqlite:///{path}"


DATABASES: dict[str, Callable[[Path], str]] = {
    "read-only": _read_only,
    "corrupt": _corrupt,
    "unreachable": _unreachable,
    "older schema": _old_schema,
}
WHY = {
    "read-only": "readonly database",
    "corrupt": "not a database",
    "unreachable": "Connection refused",
    "older schema": "an older mendbot created it",
}


def _mendbot(tmp_path: Path, *argv: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SLACK_", "MENDBOT_", "TARGET_", "DATABASE_", "RAILWAY_", "LOKI_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", *argv],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), "PORT": "0", **env},
        timeout=60,
        check=False,
    )


def _file_state(url: str) -> str | None:
    """What the SQLite file behind ``url`` holds (its schema and rows; its bytes when it is
    not a database), or None for a server."""
    if not url.startswith("sqlite"):
        return None
    path = Path(url.split("sqlite:///", 1)[1].removeprefix("file:").split("?")[0])
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
            return "\n".join(connection.iterdump())
    except sqlite3.DatabaseError:
        return hashlib.sha256(path.read_bytes()).hexdigest()


COMMANDS = {
    "scan": ["scan"],
    "run": ["run"],
    "fixes": ["fixes", "list"],
    "stats": ["stats"],
    "learn": ["learn"],
    "eval --program": ["eval", str(ROOT / "evals" / "json_worker"), "--program", "latest"],
}


#: The commands that open the database before anything else try two kinds (the suite's time).
SHORT = [
    (kind, command)
    for command in COMMANDS
    for kind in DATABASES
    if command in ("scan", "run", "fixes") or kind in ("corrupt", "unreachable")
]


@pytest.mark.parametrize(("kind", "command"), SHORT)
def test_one_line_and_exit_2(tmp_path: Path, kind: str, command: str) -> None:
    url = DATABASES[kind](tmp_path)
    before = _file_state(url)
    log = tmp_path / "service.log"
    log.write_bytes(EXCERPT.read_bytes())
    env = {"DATABASE_URL": url, "MENDBOT_LOG_FILE": str(log), "TARGET_REPO_PATH": str(tmp_path)}
    if command == "eval --program":  # --program is read with an LM only; none is asked
        env |= {"MENDBOT_LM": "openai/unused", "OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}

    done = _mendbot(tmp_path, *COMMANDS[command], env=env)

    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(PREFIX) and WHY[kind] in lines[0], lines[0]
    assert "s3cret-pw" not in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""
    assert _file_state(url) == before  # the database is left as it was
    if command == "scan":  # and the log was not consumed: a good database reads all of it
        good = {"DATABASE_URL": f"sqlite:///{tmp_path / 'good.db'}", "MENDBOT_LOG_FILE": str(log)}
        again = _mendbot(tmp_path, "scan", "--json", env=good)
        assert again.returncode == 0, again.stderr
        assert sum('"type": "anomaly"' in line for line in again.stdout.splitlines()) == 7


def test_the_database_class_raises_one_error_tree(tmp_path: Path) -> None:
    for kind, make in DATABASES.items():
        folder = tmp_path / kind.replace(" ", "_")
        folder.mkdir()
        with pytest.raises(DatabaseUnusable) as caught:
            Database(make(folder))
        assert "\n" not in str(caught.value) and "[SQL" not in str(caught.value)
        assert (kind == "older schema") == isinstance(caught.value, SchemaMismatch)
