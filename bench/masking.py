"""Benchmark (masking): how fast secrets are masked, and what it adds to a scan.

On a log (default: the shared ASGI service log, ``applogs/asgi_service.log``), measures
in one process, best of ``--repeats`` runs:

* ``whole text``: :func:`core.redact.scrub_secrets` over the whole file as one text
  (characters/s);
* ``per line``: the same, one call per line (characters/s; the per-call cost shows);
* ``per anomaly``: :func:`core.redact.mask_anomaly` over the anomalies the analyzer finds
  in the log (milliseconds per anomaly: what each cycle pays, since only anomalies are
  masked, never every record);
* references in the same run: the seven-regex masker this one replaced, when git can
  still show it (``git show d9edec6:core/redact.py``), and stock detect-secrets
  (``scan_line`` with its default plugins and filters) per line.

Usage::

    python bench/masking.py [LOG] [--repeats N] [--json]

Exit code 2 when LOG cannot be read.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_LOG = ROOT.parent / "shared" / "data" / "applogs" / "asgi_service.log"
#: The commit whose core/redact.py is the reference (the masker before this one).
OLD_MASKER_COMMIT = "d9edec6"


def best_seconds(work: Callable[[], object], repeats: int) -> float:
    """The fastest of ``repeats`` runs of ``work`` (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def old_masker() -> Callable[[str], str] | None:
    """``scrub_secrets`` of the masker this one replaced, or None without git history."""
    try:
        source = subprocess.run(
            ["git", "show", f"{OLD_MASKER_COMMIT}:core/redact.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    module = types.ModuleType("old_redact")
    sys.modules["old_redact"] = module  # dataclasses look their module up
    exec(compile(source, "old_redact.py", "exec"), module.__dict__)  # our own past code, from git
    scrub: Callable[[str], str] = module.scrub_secrets
    return scrub


def stock_detect_secrets() -> Callable[[str], object]:
    """detect-secrets' own line scan, default plugins and filters."""
    from detect_secrets.core.scan import scan_line
    from detect_secrets.settings import default_settings

    def scan(line: str) -> object:
        with default_settings():
            return list(scan_line(line))

    return scan


def measure(text: str, repeats: int) -> dict[str, Any]:
    """All figures for one log text (see the module docstring)."""
    from core.models import LogRecord
    from core.redact import mask_anomaly, scrub_secrets
    from monitoring.analysis.analyzer import LogAnalyzer
    from monitoring.parsing.parser import parse_lines

    lines = text.splitlines()
    scrub_secrets("warm up: token=abc")  # imports detect-secrets once
    result: dict[str, Any] = {"characters": len(text), "lines": len(lines)}
    seconds = best_seconds(lambda: scrub_secrets(text), repeats)
    result["whole_text_chars_per_s"] = round(len(text) / seconds)
    seconds = best_seconds(lambda: [scrub_secrets(line) for line in lines], repeats)
    result["per_line_chars_per_s"] = round(len(text) / seconds)
    records: list[LogRecord] = list(parse_lines(lines))
    anomalies = LogAnalyzer().analyze(records)
    result["anomalies"] = len(anomalies)
    if anomalies:
        seconds = best_seconds(lambda: [mask_anomaly(a) for a in anomalies], repeats)
        result["ms_per_anomaly"] = round(1000 * seconds / len(anomalies), 2)
    old = old_masker()
    if old is not None:
        seconds = best_seconds(lambda: [old(line) for line in lines], repeats)
        result["reference_old_masker_per_line_chars_per_s"] = round(len(text) / seconds)
    stock = stock_detect_secrets()
    seconds = best_seconds(lambda: [stock(line) for line in lines], max(1, repeats // 2))
    result["reference_detect_secrets_per_line_chars_per_s"] = round(len(text) / seconds)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log", nargs="?", type=Path, default=DEFAULT_LOG)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        text = args.log.read_text(encoding="utf-8", errors="replace")
    except OSError as error:
        print(f"cannot read {args.log}: {error}", file=sys.stderr)
        return 2
    result = measure(text, max(1, args.repeats))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.log.name}: {result['lines']:,} lines, {result['characters']:,} characters")
    for key, value in result.items():
        if key not in ("lines", "characters"):
            print(f"  {key:46s} {value:>12,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
