"""Process entry point: ``mendbot scan [PATH|-] [--repo DIR] [--json] [--no-diagnose] ...``.

One monitoring cycle over a log file, stdin, or (no PATH) the configured log source:
read, parse, analyze, then diagnose the new anomalies, store the proposals and notify
(Slack when ``SLACK_BOT_TOKEN`` and ``SLACK_CHANNEL`` are set; this terminal always).
Prints the anomalies most severe first and the proposals that stand for them (new ones,
and open ones seen again), as rich tables with a one-line summary, or with ``--json`` one
``{"type": "anomaly", ...}`` object per line followed by ``{"type": "proposal", ...}``
objects. The human output shows the change of the first proposals that have one, as a
diff. ``--no-diagnose`` only finds anomalies: nothing is stored, posted, or consumed from
the configured source. Progress for long inputs goes to stderr, and only when stderr is a
terminal, so ``--json`` output stays clean.

``--repo DIR`` diagnoses against a scratch git copy of DIR (with a bare remote, in a new
temporary folder; :mod:`monitoring.scratch`) instead of ``TARGET_REPO_PATH``: a newcomer
sees concrete diffs without setting anything up, and DIR itself is only read. The copy is
kept, and stderr says how to apply a fix to it.

Exit codes (as in :mod:`bot.cli.main`): 0 done (anomalies found or not), 1 ``--fail-on`` hit,
2 no PATH and no configured source, unreadable input (missing file, a directory, no
permission, a ``--repo`` that is not a folder), a failing source, or an unusable database
(unreachable, read-only, corrupt, made by an older mendbot: one line, nothing consumed);
odd content (binary, invalid UTF-8, huge lines, an empty file) is scanned, never an error.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from bot.cli import messages as say
from bot.cli import scan_output as out
from bot.cli.support import err
from bot.slack.config import configured_notifier
from core.edits import unified_diff
from core.models import Anomaly, LogRecord, Severity
from core.proposals import FixProposal
from fixes.persistence.errors import DatabaseUnusable
from monitoring.analysis.analyzer import BaselineStateError, LogAnalyzer
from monitoring.parsing.logfile import LogInputError, read_records
from monitoring.pipeline import CyclePipeline, CycleResult
from monitoring.runtime import Runtime, build_pipeline, build_runtime, build_source
from monitoring.scratch import scratch_repository
from monitoring.sources.base import LogSourceError
from settings import Settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: Records between two progress updates on stderr.
PROGRESS_EVERY = 50_000


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Run ``mendbot scan``; returns the exit code (0, 1 or 2)."""
    try:
        if args.path and args.no_diagnose:
            anomalies, records = _analyze_only(args.path, settings)
            proposals: list[FixProposal] | None = None
        else:
            settings = _on_scratch_copy(args, settings)
            anomalies, records, proposals = _cycle(args, settings)
    except (LogInputError, LogSourceError) as error:
        _err(out.input_error(str(error)))
        return EXIT_USAGE
    except _NoSource:
        _err(out.NO_SOURCE)
        return EXIT_USAGE
    except (DatabaseUnusable, SQLAlchemyError) as error:  # nothing consumed: no cursor moved
        err(say.database_error(error))
        return EXIT_USAGE
    except BaselineStateError as error:  # the analyzer keeps its baseline in the database
        err(say.database_error(error.__cause__ or error))
        return EXIT_USAGE
    except _BadRepo as error:
        _err(out.repo_error(str(error)))
        return EXIT_USAGE
    _print(anomalies, records, proposals, as_json=args.json, repo=settings.target_repo_path)
    if args.repo and proposals and any(p.implementable for p in proposals):
        _err(out.apply_on_copy(settings.target_repo_path))
    return _exit_code(anomalies, args.fail_on)


class _NoSource(Exception):
    """No PATH was given and no log source is configured."""


class _BadRepo(Exception):
    """``--repo`` is not a folder that can be copied."""


def _on_scratch_copy(args: argparse.Namespace, settings: Settings) -> Settings:
    """``settings`` pointed at a new scratch copy of ``--repo`` (unchanged without it)."""
    if not getattr(args, "repo", None):
        return settings
    source = Path(args.repo).expanduser()
    if not source.is_dir():
        raise _BadRepo(f"{args.repo} is not a folder")
    work = Path(tempfile.mkdtemp(prefix="mendbot-scan-"))
    try:
        copy = scratch_repository(source.resolve(), work, message=f"a copy of {source}")
    except (OSError, subprocess.CalledProcessError) as error:
        raise _BadRepo(f"cannot copy {args.repo}: {error}") from error
    _err(out.scratch_note(args.repo, copy))
    return settings.model_copy(
        update={"target_repo_path": copy, "git_remote": "origin", "git_branch": "main"}
    )


def _analyze_only(path: str, settings: Settings) -> tuple[list[Anomaly], int]:
    """Parse and analyze ``path`` without touching the database (``--no-diagnose``)."""
    analyzer = LogAnalyzer(slow_threshold_seconds=settings.slow_threshold_seconds)
    records = read_records(path)
    with _progress() as tick:
        anomalies = analyzer.analyze(_counted(records, tick))
    return anomalies, analyzer.last_record_count


def _cycle(
    args: argparse.Namespace, settings: Settings
) -> tuple[list[Anomaly], int, list[FixProposal] | None]:
    """One full cycle: recover, analyze, diagnose, store, notify."""
    records = read_records(args.path) if args.path else None  # input errors before the DB
    runtime = build_runtime(settings, notifier=configured_notifier(settings))
    try:
        pipeline = build_pipeline(runtime, diagnose=not args.no_diagnose)
        if records is not None:
            with _progress() as tick:
                result = pipeline.process(_counted(records, tick))
        else:
            result = _from_source(runtime, pipeline, commit=not args.no_diagnose)
    finally:
        runtime.close()
    for note in result.notes:
        _err(note)
    if args.no_diagnose:
        return result.anomalies, result.records, None
    return result.anomalies, result.records, _standing(result)


def _from_source(runtime: Runtime, pipeline: CyclePipeline, *, commit: bool) -> CycleResult:
    """Read the configured source once; move its cursor only when the cycle is stored."""
    source = build_source(runtime.settings, state=runtime.state)
    if source is None:
        raise _NoSource
    try:
        return pipeline.run_once(source, commit=commit)
    finally:
        source.close()


def _standing(result: CycleResult) -> list[FixProposal]:
    """The proposals that stand for this scan's anomalies: new ones, then repeats."""
    return [*result.new_proposals, *(proposal for proposal, _count in result.repeats)]


def _print(
    anomalies: list[Anomaly],
    records: int,
    proposals: list[FixProposal] | None,
    *,
    as_json: bool,
    repo: Path | None,
) -> None:
    """Write the result to stdout; a closed pipe (``| head``) ends output quietly."""
    try:
        if as_json:
            out.write_json_lines(map(out.anomaly_to_json, anomalies), sys.stdout)
            out.write_json_lines(map(out.proposal_to_json, proposals or []), sys.stdout)
        else:
            changes = [p for p in proposals or [] if p.edits][: out.MAX_DIFFS]
            diffs = [(p, unified_diff(p.edits, repo_root=repo)) for p in changes]
            out.render(Console(), records, anomalies, proposals, diffs)
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
    for count, record in enumerate(records, start=1):
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
    err(f"mendbot: {message}")
