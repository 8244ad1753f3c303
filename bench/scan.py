"""Benchmark (log analysis): ``scan`` throughput and peak memory on a large log.

Builds a log of ``--lines`` lines (default 500,000) in a temporary directory by repeating
the shared real logs (``applogs/asgi_service.log`` and every Loghub ``*_2k.log`` under
``--data``, default ``../shared/data``), then measures, each in a fresh child process so
that peak RSS belongs to that work alone:

* ``scan``: parse + analyze (``monitoring.parsing.logfile.read_records`` into
  ``LogAnalyzer.analyze``) of the whole file: lines/s on wall clock and on CPU time of the
  one process (one core), and peak RSS (MB);
* ``scan (unique)``: the same over one copy of the corpus only (no line repeats, caches
  start cold), the figure for logs that never repeat;
* references in the same run: reading the file line by line, and stock drain3
  (``TemplateMiner()`` default config) mining the same raw lines.

Usage::

    python bench/scan.py [--lines N] [--data DIR] [--json] [--no-drain3]

Exit code 2 when no input log is found under ``--data``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def corpus(data_dir: Path) -> list[Path]:
    """The real logs to repeat: the ASGI service log and the Loghub raw samples."""
    logs = sorted(data_dir.glob("applogs/*.log")) + sorted(data_dir.glob("loghub/*/*_2k.log"))
    return [path for path in logs if path.is_file()]


def build(paths: list[Path], lines: int, target: Path) -> int:
    """Write ``lines`` lines cycling through ``paths`` into ``target``; returns lines written."""
    chunks = [path.read_bytes().splitlines(keepends=True) for path in paths]
    source = [line if line.endswith(b"\n") else line + b"\n" for chunk in chunks for line in chunk]
    written = 0
    with target.open("wb") as out:
        while written < lines and source:
            batch = source[: lines - written]
            out.writelines(batch)
            written += len(batch)
    return written


def _measure(mode: str, path: Path) -> dict[str, Any]:
    """Run one measurement in this process (called in the child) and return its figures."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import drain3.template_miner  # noqa: F401  (imports are not part of the timing)

    import monitoring.analysis.analyzer
    import monitoring.parsing.logfile  # noqa: F401

    if mode == "read":
        work = _read_lines
    elif mode == "drain3":
        work = _stock_drain3
    else:
        work = _scan
    wall, cpu = time.perf_counter(), time.process_time()
    extra = work(path)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_mb": round(peak_mb, 1), **extra}


def _read_lines(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        count = sum(1 for _ in handle)
    return {"lines": count}


def _stock_drain3(path: Path) -> dict[str, Any]:
    import logging

    from drain3 import TemplateMiner
    from drain3.template_miner_config import TemplateMinerConfig

    logging.disable(logging.WARNING)
    add = TemplateMiner(config=TemplateMinerConfig()).add_log_message
    count = 0
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            add(line.rstrip("\n"))
            count += 1
    return {"lines": count}


def _scan(path: Path) -> dict[str, Any]:
    from monitoring.analysis.analyzer import LogAnalyzer
    from monitoring.parsing.logfile import read_records

    analyzer = LogAnalyzer()
    anomalies = analyzer.analyze(read_records(path))
    with path.open("rb") as handle:
        count = sum(1 for _ in handle)
    return {"lines": count, "records": analyzer.last_record_count, "anomalies": len(anomalies)}


def measure_in_child(mode: str, path: Path, timeout: float | None = None) -> dict[str, Any]:
    """Run :func:`_measure` in a fresh interpreter; returns its figures plus lines/s.

    Raises:
        subprocess.TimeoutExpired: the child ran longer than ``timeout`` seconds.
    """
    done = subprocess.run(
        [sys.executable, __file__, "--child", mode, str(path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=timeout,
    )
    figures = json.loads(done.stdout)
    figures["lines_per_s"] = round(figures["lines"] / figures["wall_s"])
    figures["cpu_lines_per_s"] = round(figures["lines"] / figures["cpu_s"])
    return figures


def run(data_dir: Path, lines: int, *, drain3: bool = True) -> dict[str, Any]:
    """Build the log, run every measurement, return ``{"lines", "results": {...}}``."""
    paths = corpus(data_dir)
    if not paths:
        raise FileNotFoundError(f"no logs under {data_dir} (applogs/*.log, loghub/*/*_2k.log)")
    with tempfile.TemporaryDirectory(prefix="mendbot-bench-") as tmp:
        big, unique = Path(tmp) / "big.log", Path(tmp) / "unique.log"
        written = build(paths, lines, big)
        build(paths, sum(len(p.read_bytes().splitlines()) for p in paths), unique)
        results = {
            "read": measure_in_child("read", big),
            "scan": measure_in_child("scan", big),
            "scan_unique": measure_in_child("scan", unique),
        }
        if drain3:
            results["drain3"] = measure_in_child("drain3", big)
    return {"lines": written, "results": results}


def _report(summary: dict[str, Any]) -> str:
    rows = [
        f"{summary['lines']:,} lines; wall and CPU lines/s, peak RSS of the process",
        f"{'measurement':<26} {'lines/s':>10} {'cpu lines/s':>12} {'peak RSS MB':>12}",
    ]
    names = {
        "read": "reference: read lines",
        "scan": "scan (parse + analyze)",
        "scan_unique": "scan, unique lines only",
        "drain3": "reference: stock drain3",
    }
    for key, figures in summary["results"].items():
        rows.append(
            f"{names[key]:<26} {figures['lines_per_s']:>10,} "
            f"{figures['cpu_lines_per_s']:>12,} {figures['peak_rss_mb']:>12.1f}"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code (0, or 2 without input logs)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=500_000, help="log size (500000)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--no-drain3", action="store_true", help="skip the drain3 reference")
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(_measure(args.child[0], Path(args.child[1]))))
        return 0
    try:
        summary = run(args.data, args.lines, drain3=not args.no_drain3)
    except FileNotFoundError as error:
        print(f"scan bench: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary) if args.json else _report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
