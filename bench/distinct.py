"""Benchmark (log analysis): the analyzer's cost on a flood of distinct ERROR lines (hostile logs).

Writes, in a temporary directory, ``--lines`` (default 100,000) ERROR lines in the standard
``logging`` format (``%(asctime)s - %(name)s - %(levelname)s - %(message)s``) whose
messages are all different even after masking: random words (no digits, so nothing is
masked away), random ids and numbers, 2 to 14 of them after one of five common starts
(``request failed:``...), seeded (``--seed``). Beside it,
a normal mix of the same size (the shared real logs repeated, as ``bench/scan.py`` builds
it). Each is scanned (``read_records`` into ``LogAnalyzer.analyze``) in a fresh child
process; printed per input: lines/s on wall clock and CPU, peak RSS (MB) and anomalies.

Usage::

    python bench/distinct.py [--lines N] [--seed S] [--data DIR] [--json] [--timeout SECONDS]

A child that runs past ``--timeout`` (default 600 s) is stopped and reported as such.
Exit code 2 when no input log is found under ``--data`` for the normal mix.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scan import DEFAULT_DATA, build, corpus, measure_in_child

_LOGGERS = ("app.api", "app.db", "app.worker", "app.billing", "uvicorn.error")
#: How the messages start (as an app's error messages do); the rest is random.
_PREFIXES = ("request failed:", "Unhandled error", "job", "payment error for", "upstream said")


def _word(rnd: random.Random) -> str:
    return "".join(rnd.choices(string.ascii_lowercase, k=rnd.randint(3, 10)))


def _token(rnd: random.Random) -> str:
    roll = rnd.random()
    if roll < 0.75:
        return _word(rnd)
    if roll < 0.85:
        return f"{_word(rnd)}={rnd.randint(0, 10**6)}"
    if roll < 0.95:
        return f"{rnd.getrandbits(64):016x}"
    return f"'{_word(rnd).capitalize()}{_word(rnd)}'"


def hostile_lines(count: int, seed: int = 7) -> list[str]:
    """``count`` distinct ERROR lines (each message distinct after masking too)."""
    rnd = random.Random(seed)
    lines: list[str] = []
    seen: set[str] = set()
    while len(lines) < count:
        words = [_token(rnd) for _ in range(rnd.randint(2, 14))]
        message = rnd.choice(_PREFIXES) + " " + " ".join(words)
        if message in seen:
            continue
        seen.add(message)
        second = len(lines) % 60
        stamp = f"2026-11-21 18:{len(lines) // 60 % 60:02d}:{second:02d},{len(lines) % 1000:03d}"
        lines.append(f"{stamp} - {rnd.choice(_LOGGERS)} - ERROR - {message}\n")
    return lines


def _scan(path: Path, timeout: float) -> dict[str, Any]:
    try:
        return measure_in_child("scan", path, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"timed_out_after_s": timeout}


def run(data_dir: Path, lines: int, seed: int, timeout: float) -> dict[str, Any]:
    """Write both inputs, scan each in a child, return ``{"lines", "results": {...}}``."""
    paths = corpus(data_dir)
    if not paths:
        raise FileNotFoundError(f"no logs under {data_dir} (applogs/*.log, loghub/*/*_2k.log)")
    with tempfile.TemporaryDirectory(prefix="mendbot-distinct-") as tmp:
        hostile, normal = Path(tmp) / "distinct.log", Path(tmp) / "normal.log"
        hostile.write_text("".join(hostile_lines(lines, seed)), encoding="utf-8")
        build(paths, lines, normal)
        results = {"distinct_errors": _scan(hostile, timeout), "normal_mix": _scan(normal, timeout)}
    return {"lines": lines, "results": results}


def _report(summary: dict[str, Any]) -> str:
    rows = [
        f"{summary['lines']:,} lines per input; wall and CPU lines/s, peak RSS of the process",
        f"{'input':<26} {'lines/s':>10} {'cpu lines/s':>12} {'peak RSS MB':>12} {'anomalies':>10}",
    ]
    names = {"distinct_errors": "distinct ERROR lines", "normal_mix": "normal mix (real logs)"}
    for key, figures in summary["results"].items():
        if "timed_out_after_s" in figures:
            rows.append(f"{names[key]:<26} did not finish in {figures['timed_out_after_s']:.0f} s")
            continue
        rows.append(
            f"{names[key]:<26} {figures['lines_per_s']:>10,} {figures['cpu_lines_per_s']:>12,} "
            f"{figures['peak_rss_mb']:>12.1f} {figures['anomalies']:>10,}"
        )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code (0, or 2 without input logs)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000, help="lines per input (100000)")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the hostile lines")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per child (600)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    try:
        summary = run(args.data, args.lines, args.seed, args.timeout)
    except FileNotFoundError as error:
        print(f"distinct bench: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary) if args.json else _report(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
