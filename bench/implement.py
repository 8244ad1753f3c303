"""Benchmark (fixes implementor): approval to pushed on a 1,000-file repository.

Builds a throw-away service repository of 1,000 Python files with a bare remote, stores
one proposal per run, and times ``Decisions.implement`` (approve, lock, preflight with
fetch, backup + journal, write, compile + import check, commit, push) with
``VALIDATE_COMMAND`` unset. As a reference, the same kind of one-file change is committed
and pushed by plain ``git commit && git push`` subprocesses in the same run.

Usage::

    .venv/bin/python bench/implement.py [--files 1000] [--runs 7] [--database-url POSTGRES_URL]

Target: median under 2 s. Prints a table and one JSON line (``{"bench": "implement", ...}``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evidence import locate
from core.models import Anomaly, Diagnosis, FrameModel, Severity
from core.proposals import Edit, FixProposal
from monitoring.runtime import build_runtime
from settings import Settings

TARGET_SECONDS = 2.0
_GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.com",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd``; returns stdout."""
    return subprocess.run(
        ["git", *args], cwd=cwd, env=_GIT_ENV, check=True, capture_output=True, text=True
    ).stdout.strip()


def module_text(index: int) -> str:
    """A plausible 40-line module; ``LIMIT_<i> = 10`` is the line runs edit."""
    body = "\n".join(
        f"def handler_{index}_{n}(request):\n    return {{'n': {n}}}\n" for n in range(12)
    )
    return f'"""Module {index}."""\nimport json\n\nLIMIT_{index} = 10\n\n{body}\n'


def make_service(root: Path, files: int) -> tuple[Path, Path]:
    """``root/remote.git`` (bare) and ``root/work`` with ``files`` modules, pushed."""
    bare, work = root / "remote.git", root / "work"
    git(root, "init", "-q", "--bare", "-b", "main", str(bare))
    git(root, "init", "-q", "-b", "main", str(work))
    for index in range(files):
        package = work / "service" / f"pkg{index // 50:02d}"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
        (package / f"mod_{index:04d}.py").write_text(module_text(index))
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "service")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "-u", "origin", "main")
    return work, bare


def proposal_for(index: int) -> FixProposal:
    """A proposal raising ``LIMIT_<index>`` in its module."""
    now = datetime.now(UTC)
    anomaly = Anomaly(
        kind="truncation",
        fingerprint=f"bench{index:04d}",
        template="LM response truncated",
        count=11,
        first_seen=now,
        last_seen=now,
        severity=Severity.MEDIUM,
    )
    diagnosis = Diagnosis(
        root_cause="limit too low", severity_assessment=Severity.MEDIUM, confidence=0.9
    )
    path = f"service/pkg{index // 50:02d}/mod_{index:04d}.py"
    frame = FrameModel(file=f"/app/{path}", line=4, function="<module>")
    evidence = locate(
        module_text(index),
        path=path,
        line=frame.line,
        kind="frame",
        detail=frame.file,
        function=frame.function,
    )
    return FixProposal(
        fingerprint=anomaly.fingerprint,
        anomaly=anomaly.model_copy(update={"frames": [frame]}),
        diagnosis=diagnosis,
        title=f"Raise LIMIT_{index}",
        created_at=now,
        edits=[Edit(path=path, old_text=f"LIMIT_{index} = 10", new_text=f"LIMIT_{index} = 40")],
        evidence=[evidence] if evidence else [],
    )


def time_mendbot(work: Path, database_url: str, runs: int) -> list[float]:
    """Seconds from ``implement`` (approval) to pushed, one proposal per run."""
    settings = Settings(
        _env_file=None,
        database_url=database_url,  # type: ignore[call-arg]
        target_repo_path=work,
    )
    runtime = build_runtime(settings)
    seconds = []
    for run in range(runs):
        proposal = runtime.store.add(proposal_for(run))
        started = time.perf_counter()
        final = runtime.decisions.implement(proposal.id, actor="bench")
        seconds.append(time.perf_counter() - started)
        if final.status.value != "applied":
            raise SystemExit(f"run {run}: {final.status.value}: {final.error}")
    runtime.close()
    return seconds


def time_plain_git(work: Path, runs: int, first_index: int) -> list[float]:
    """Seconds for write + ``git commit -a`` + ``git push`` of the same kind of change."""
    seconds = []
    for run in range(runs):
        index = first_index + run
        path = work / "service" / f"pkg{index // 50:02d}" / f"mod_{index:04d}.py"
        started = time.perf_counter()
        path.write_text(path.read_text().replace(f"LIMIT_{index} = 10", f"LIMIT_{index} = 40"))
        git(work, "commit", "-q", "-am", f"raise LIMIT_{index}")
        git(work, "push", "-q", "origin", "main")
        seconds.append(time.perf_counter() - started)
    return seconds


@contextmanager
def scratch_database(url: str | None, tmp: Path) -> Iterator[str]:
    """A SQLite file in ``tmp``, or a fresh schema in the PostgreSQL at ``url`` (dropped
    afterwards, so the benchmark leaves no tables behind)."""
    if not url:
        yield f"sqlite:///{tmp / 'mendbot.db'}"
        return
    import sqlalchemy

    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"mendbot_bench_{uuid.uuid4().hex[:10]}"
    admin = sqlalchemy.create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 when the median misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--database-url",
        metavar="POSTGRES_URL",
        help="time against this PostgreSQL (in a scratch schema, dropped "
        "after); default: a SQLite file in the temp directory",
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="mendbot-bench-") as tmp:
        root = Path(tmp)
        work, _bare = make_service(root, args.files)
        with scratch_database(args.database_url, root) as url:
            ours = time_mendbot(work, url, args.runs)
        plain = time_plain_git(work, args.runs, first_index=args.runs)
    median, reference = statistics.median(ours), statistics.median(plain)
    print(f"repository: {args.files} files, {args.runs} runs, VALIDATE_COMMAND unset")
    print(
        f"mendbot approval -> pushed: median {median:.3f} s, max {max(ours):.3f} s "
        f"(target < {TARGET_SECONDS:g} s)"
    )
    print(f"plain git commit && push:   median {reference:.3f} s, max {max(plain):.3f} s")
    print(
        json.dumps(
            {
                "bench": "implement",
                "files": args.files,
                "runs": args.runs,
                "median_seconds": round(median, 4),
                "max_seconds": round(max(ours), 4),
                "git_reference_median_seconds": round(reference, 4),
            }
        )
    )
    return 0 if median < TARGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
