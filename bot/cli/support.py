"""Process entry point helpers shared by the CLI commands: output, settings, errors, actors.

Every line the command line writes goes through :func:`out` or :func:`err`, which pass
it through :func:`core.text.printable`: log text, LM answers, file paths and error
strings can carry ANSI/OSC sequences, carriage returns or bidi overrides, and none of
them reaches the terminal raw, whichever message forgot to care.
"""

from __future__ import annotations

import getpass
import sys

from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from bot.cli.messages import database_error
from core.text import printable
from fixes.persistence.db import Database
from fixes.persistence.errors import DatabaseUnusable
from settings import Settings, get_settings

EXIT_USAGE = 2


def out(text: str = "") -> None:
    """Write ``text`` and a newline to stdout, made :func:`~core.text.printable`."""
    print(printable(text), flush=True)


def err(text: str) -> None:
    """Write ``text`` and a newline to stderr, made :func:`~core.text.printable`."""
    print(printable(text), file=sys.stderr, flush=True)


def fail(message: str, code: int = EXIT_USAGE) -> SystemExit:
    """Print ``mendbot: <message>`` to stderr and return a SystemExit to raise."""
    err(f"mendbot: {message}")
    return SystemExit(code)


def open_database_or_exit(settings: Settings) -> Database:
    """``DATABASE_URL`` opened (schema created), or exit 2 with one line saying where and
    why (read-only, corrupt, unreachable, an older schema): never a traceback."""
    try:
        return Database(settings.database_url)
    except (DatabaseUnusable, SQLAlchemyError) as error:
        err(database_error(error))
        raise SystemExit(EXIT_USAGE) from None


def load_settings_or_exit() -> Settings:
    """The process settings, or exit 2 with one line per invalid variable."""
    try:
        return get_settings()
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"]) or "settings"
            lines.append(f"  {where}: {problem['msg'].removeprefix('Value error, ')}")
        raise fail("configuration error:\n" + "\n".join(lines)) from None


def local_actor(name: str | None = None) -> str:
    """The audit actor for a terminal user: ``cli:<name>`` (default: the login name)."""
    if name:
        return name if name.startswith("cli:") else f"cli:{name}"
    try:
        login = getpass.getuser()
    except Exception:
        login = "unknown"
    return f"cli:{login}"
