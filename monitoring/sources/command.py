"""Log sources: a shell command run once per cycle whose standard output is the log.

``MENDBOT_LOG_COMMAND`` runs under ``/bin/sh`` with a timeout; its stdout is parsed as
log lines. The command gets ``MENDBOT_SINCE`` in its environment: the ISO 8601 UTC time
of the newest record read so far (empty on the first run), so a command can ask for only
what is new, e.g. ``journalctl -u api -o short-iso --since "${MENDBOT_SINCE:-1 hour ago}"``.

A command that prints overlapping output each time (``tail -n 500 app.log``) is handled
too: records already read in the previous run (same text, counted per repeat) are
dropped, as are records stamped before ``MENDBOT_SINCE``.

Cursor shape::

    {"since": "2026-11-21T02:33:00.000000Z", "seen": ["<key>", "<key>#2", ...]}
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.models import LogRecord
from monitoring.sources.base import (
    Batch,
    LogSourceError,
    LogSourceUnavailable,
    iso,
    occurrence_keys,
    parse_iso_timestamp,
)
from settings import process_environment

#: Most record keys remembered from the previous run's output.
MAX_SEEN = 20000


class CommandSource:
    """Runs a command each fetch and reads its standard output.

    Args:
        command: a shell command line (``MENDBOT_LOG_COMMAND``).
        timeout_seconds: the command is killed (with its process group) after this.
        max_bytes: stdout beyond this is ignored (a bound on memory).
        environment: the command's environment (``MENDBOT_SINCE`` is added); default: this
            process's.
        parser_factory: builds a record parser given ``fallback_time`` (default
            :class:`monitoring.parsing.parser.RecordParser`).
    """

    name = "command"

    def __init__(
        self,
        *,
        command: str,
        timeout_seconds: float = 60.0,
        max_bytes: int = 16 * 1024 * 1024,
        environment: Mapping[str, str] | None = None,
        parser_factory: Any = None,
    ) -> None:
        if not command.strip():
            raise LogSourceError("MENDBOT_LOG_COMMAND is empty")
        self.command = command
        self.timeout_seconds = timeout_seconds
        self.max_bytes = max_bytes
        self.environment = dict(environment) if environment is not None else process_environment()
        self._parser_factory = parser_factory or _default_parser
        digest = hashlib.blake2b(command.encode(), digest_size=6).hexdigest()
        self.cursor_key = f"source:command:{digest}"

    def fetch(self, cursor: Mapping[str, Any] | None, *, now: datetime) -> Batch:
        """Run the command; records it printed that were not read before.

        Raises:
            LogSourceUnavailable: the command timed out.
            LogSourceError: it could not start or exited non-zero (stderr tail included).
        """
        since = (cursor or {}).get("since") or ""
        output = self._run(since)
        parser = self._parser_factory(now)
        records: list[LogRecord] = []
        for line in output.splitlines():
            records.extend(parser.feed(line))
        records.extend(parser.flush())
        keys = occurrence_keys(("", r.raw) for r in records)
        seen = set((cursor or {}).get("seen") or ())
        floor = parse_iso_timestamp(since) if since else None
        fresh = [
            r
            for r, k in zip(records, keys, strict=True)
            if k not in seen and (floor is None or r.timestamp >= floor)
        ]
        newest = max((r.timestamp for r in fresh), default=None)
        new_since = iso(newest) if newest and (not floor or newest > floor) else since
        return Batch(records=fresh, cursor={"since": new_since, "seen": keys[-MAX_SEEN:]})

    def check(self) -> str:
        """Describes the command (running it is the real check)."""
        return f"command: {self.command}"

    def close(self) -> None:
        """Nothing is held between fetches."""

    def _run(self, since: str) -> str:
        env = {**self.environment, "MENDBOT_SINCE": since}
        try:
            process = subprocess.Popen(
                self.command,
                shell=True,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        except OSError as error:
            raise LogSourceError(f"MENDBOT_LOG_COMMAND could not start: {error}") from error
        try:
            stdout, stderr = process.communicate(timeout=self.timeout_seconds)
        except subprocess.TimeoutExpired as error:
            _kill_group(process)
            raise LogSourceUnavailable(
                f"MENDBOT_LOG_COMMAND did not finish within {self.timeout_seconds:g} s"
            ) from error
        if process.returncode != 0:
            tail = stderr.decode("utf-8", errors="replace").strip()[-300:]
            raise LogSourceError(
                f"MENDBOT_LOG_COMMAND exited with status {process.returncode}: {tail}"
            )
        return stdout[: self.max_bytes].decode("utf-8", errors="replace")


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the command and everything it started, then reap it."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()
    process.communicate()


def _default_parser(fallback_time: datetime) -> Any:
    from monitoring.parsing.parser import RecordParser

    return RecordParser(fallback_time=fallback_time)
