"""Process entry point: ``mendbot scan [PATH|-] [--json] [--no-diagnose] [--fail-on SEVERITY]``.

One monitoring cycle over a log file or stdin: read, parse, analyze, print the anomalies
most severe first (a rich table and a one-line summary, or with ``--json`` one
``{"type": "anomaly", ...}`` object per line on stdout). Progress for long inputs goes to
stderr, and only when stderr is a terminal, so ``--json`` output stays clean. Without a
PATH the configured log source would be read; that path is not wired yet, so it says so.

Exit codes (as in :mod:`bot.cli`): 0 done (anomalies found or not), 1 ``--fail-on`` hit,
2 no PATH or unreadable input (missing file, a directory, no permission); odd content
(binary, invalid UTF-8, huge lines, an empty file) is scanned, never an error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console

from bot import scan_output as out
from monitoring.analyzer import LogAnalyzer
from monitoring.logfile import LogInputError, read_records
from monitoring.models import Anomaly, LogRecord, Severity
from settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Records between two progress updates on stderr.
PROGRESS_EVERY = 50_000


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``mendbot scan``; returns the exit code (0, 1 or 2)."""
    if not args.path:
        _err(out.NO_SOURCE)
        return EXIT_USAGE
    analyzer = LogAnalyzer(slow_threshold_seconds=settings.slow_threshold_seconds)
    try:
        records = read_records(args.path)
        with _progress() as tick:
            anomalies = analyzer.analyze(_counted(records, tick))
    except LogInputError as error:
        _err(out.input_error(str(error)))
        return EXIT_USAGE
    _print(anomalies, analyzer.last_record_count, as_json=args.json)
    return _exit_code(anomalies, args.fail_on)


def _print(anomalies: list[Anomaly], records: int, *, as_json: bool) -> None:
    """Write the result to stdout; a closed pipe (``| head``) ends output quietly."""
    try:
        if as_json:
            out.write_json_lines(map(out.anomaly_to_json, anomalies), sys.stdout)
        else:
            out.render(Console(), records, anomalies)
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())


def _exit_code(anomalies: list[Anomaly], fail_on: str | None) -> int:
    if fail_on is None:
        return EXIT_OK
    floor = Severity(fail_on).rank
    return EXIT_FAILED if any(a.severity.rank >= floor for a in anomalies) else EXIT_OK


def _counted(records: Iterable[LogRecord], tick: Callable[[int], None]) -> Iterator[LogRecord]:
    """Pass records through, calling ``tick(count)`` every :data:`PROGRESS_EVERY` records."""
    count = 0
    for record in records:
        count += 1
        if count % PROGRESS_EVERY == 0:
            tick(count)
        yield record


@contextmanager
def _progress() -> Iterator[Callable[[int], None]]:
    """A transient status line on stderr when it is a terminal, else a no-op."""
    if not sys.stderr.isatty():
        yield lambda count: None
        return
    console = Console(stderr=True)
    with console.status(out.progress_line(0)) as status:
        yield lambda count: status.update(out.progress_line(count))


def _err(message: str) -> None:
    print(f"mendbot: {message}", file=sys.stderr)
