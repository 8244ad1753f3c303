"""Benchmark (log analysis): template grouping of our miner against stock drain3 on Loghub.

For each ``<System>/<System>_2k.log_structured.csv`` under DATA_DIR, both miners group the
``Content`` column in the same process and run: ours
(``monitoring.analysis.templates.TemplateMiner``: masking, tuned drain3, caches) and stock
drain3 (``TemplateMiner`` with its default ``TemplateMinerConfig()``: no masking, sim_th 0.4,
depth 4). Reported per dataset:

* group accuracy (GA): a line counts as correct when the set of lines grouped with it
  equals the set of lines sharing its ground-truth ``EventId`` (Zhu et al., ICSE-SEIP 2019);
* lines per second: best of ``--repeats`` runs, each with a fresh miner (cold caches).

Usage::

    python bench/grouping.py ../shared/data/loghub [--json] [--repeats N]

``--json`` prints ``{"datasets": [{"name", "ga", "lines_per_s", "drain3_ga",
"drain3_lines_per_s"}], "mean_ga": .., "mean_drain3_ga": ..}``. Exit code 2 when DATA_DIR
holds no dataset. Data: Loghub (Zhu, He, He, Liu, Lyu, ISSRE 2023), see its LICENSE.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from drain3 import TemplateMiner as StockTemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from monitoring.analysis.templates import TemplateMiner

Grouper = Callable[[Sequence[str]], list[Hashable]]


def load_dataset(path: Path) -> tuple[list[str], list[str]]:
    """The ``Content`` and ``EventId`` columns of a Loghub structured CSV, in file order."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.DictReader(handle))
    return [row["Content"] or "" for row in rows], [row["EventId"] for row in rows]


def group_accuracy(predicted: Sequence[Hashable], truth: Sequence[Hashable]) -> float:
    """Share (0..1) of lines whose predicted group equals their ground-truth group."""
    if not truth:
        return 1.0
    by_truth: dict[Hashable, set[int]] = defaultdict(set)
    by_pred: dict[Hashable, set[int]] = defaultdict(set)
    for index, (p, t) in enumerate(zip(predicted, truth, strict=True)):
        by_truth[t].add(index)
        by_pred[p].add(index)
    correct = sum(1 for p, t in zip(predicted, truth, strict=True) if by_pred[p] == by_truth[t])
    return correct / len(truth)


def ours(contents: Sequence[str]) -> list[Hashable]:
    """Cluster ids from a fresh ``monitoring.analysis.templates.TemplateMiner``."""
    assign = TemplateMiner().cluster_id
    return [assign(line) for line in contents]


def stock_drain3(contents: Sequence[str]) -> list[Hashable]:
    """Cluster ids from a fresh stock drain3 ``TemplateMiner`` (default config)."""
    add = StockTemplateMiner(config=TemplateMinerConfig()).add_log_message
    return [add(line)["cluster_id"] for line in contents]


def timed(grouper: Grouper, contents: Sequence[str], repeats: int) -> tuple[list[Hashable], float]:
    """(labels of the first run, lines per second of the fastest run)."""
    labels: list[Hashable] = []
    best = float("inf")
    for run in range(max(1, repeats)):
        started = time.perf_counter()
        result = grouper(contents)
        best = min(best, time.perf_counter() - started)
        if run == 0:
            labels = result
    return labels, len(contents) / best if best > 0 else float("inf")


def datasets(data_dir: Path) -> list[Path]:
    """Every ``<System>/<System>_2k.log_structured.csv`` under ``data_dir``, sorted by name."""
    return sorted(data_dir.glob("*/*_2k.log_structured.csv"))


def run(data_dir: Path, repeats: int = 3) -> list[dict[str, float | str]]:
    """Measure both miners on every dataset; one result dict per dataset."""
    results: list[dict[str, float | str]] = []
    for path in datasets(data_dir):
        contents, truth = load_dataset(path)
        labels, speed = timed(ours, contents, repeats)
        stock_labels, stock_speed = timed(stock_drain3, contents, repeats)
        results.append(
            {
                "name": path.parent.name,
                "ga": round(group_accuracy(labels, truth), 4),
                "lines_per_s": round(speed),
                "drain3_ga": round(group_accuracy(stock_labels, truth), 4),
                "drain3_lines_per_s": round(stock_speed),
            }
        )
    return results


def _mean(results: list[dict[str, float | str]], key: str) -> float:
    return round(sum(float(r[key]) for r in results) / len(results), 4)


def _table(results: list[dict[str, float | str]]) -> str:
    lines = [f"{'dataset':<12} {'GA':>6} {'lines/s':>9}   {'drain3 GA':>9} {'lines/s':>9}"]
    for r in results:
        lines.append(
            f"{r['name']:<12} {r['ga']:>6.3f} {r['lines_per_s']:>9,}   "
            f"{r['drain3_ga']:>9.3f} {r['drain3_lines_per_s']:>9,}"
        )
    lines.append(
        f"{'mean':<12} {_mean(results, 'ga'):>6.3f} {'':>9}   {_mean(results, 'drain3_ga'):>9.3f}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code (0, or 2 without datasets)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per miner (3)")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # drain3 logs at INFO/WARNING on every miner it builds
    results = run(args.data_dir, args.repeats)
    if not results:
        print(
            f"grouping: no <System>/<System>_2k.log_structured.csv under {args.data_dir}",
            file=sys.stderr,
        )
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "datasets": results,
                    "mean_ga": _mean(results, "ga"),
                    "mean_drain3_ga": _mean(results, "drain3_ga"),
                }
            )
        )
    else:
        print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
