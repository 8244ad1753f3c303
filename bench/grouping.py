"""Benchmark (log analysis): template grouping of ours, stock drain3 and Brain on Loghub samples.

For each ``<System>/<System>_2k.log_structured.csv`` under DATA_DIR, in one run:

* ours: ``monitoring.analysis.templates.TemplateMiner`` (masking, shapes, clusters, one
  setting for every log) groups the ``Content`` column; a group's template is what
  mendbot shows (``Group.canonical``: its masked forms merged), rendered with ``<*>``;
* stock drain3: ``TemplateMiner`` with its default ``TemplateMinerConfig()`` (no masking,
  sim_th 0.4, depth 4) on the same ``Content``; its templates as drain3 ends them;
* Brain (logpai's ``logparser3``, ``bench/brain_runner.py``), in its own interpreter, on
  the raw ``<System>_2k.log`` with the per-dataset settings of its own ``benchmark.py``
  (log format, masking regexes, delimiters, threshold): the tuned reference. Skipped, with
  a note, when no interpreter with logparser3 is found or the dataset has no settings.

Figures per dataset and method:

* group accuracy (GA): the share of lines whose predicted group holds exactly the lines
  of their ground-truth ``EventId`` (Zhu et al., ICSE-SEIP 2019);
* parsing accuracy (PA): the share of lines whose predicted template equals their
  ground-truth ``EventTemplate`` once both are normalised by :func:`normalise_template`:
  every placeholder (``<*>``, ``<NUM>``, ``<IP>``...) is ``<*>``, whitespace is left out
  and consecutive ``<*>`` are one;
* lines per second: best of ``--repeats`` runs, each with a fresh miner (cold caches);
  Brain's is its ``LogParser.parse`` (reading its log and writing its CSVs included).

Usage::

    python bench/grouping.py ../shared/data/loghub [--json] [--repeats N] [--brain-python PY]

The Brain interpreter is ``--brain-python``, else ``$MENDBOT_BRAIN_PYTHON``, else
``.venv-brain/bin/python`` (``python3 -m venv .venv-brain && .venv-brain/bin/pip install
-r bench/requirements-brain.txt``), else this one if it imports logparser. ``--json``
prints ``{"datasets": [{"name", "lines", "ga", "pa", "lines_per_s", "drain3_ga",
"drain3_pa", "drain3_lines_per_s", "brain_ga", "brain_pa", "brain_lines_per_s"}],
"summary": {"mean_ga", "min_ga", "mean_pa", ..., "min_speedup_vs_brain"}, "brain": note}``
(Brain's figures null when skipped). Exit code 2 when DATA_DIR holds no dataset. Data:
Loghub (Zhu, He, He, Liu, Lyu, ISSRE 2023), see its LICENSE.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from drain3 import TemplateMiner as StockTemplateMiner
from drain3.template_miner_config import TemplateMinerConfig

from monitoring.analysis.evidence import merge_forms
from monitoring.analysis.templates import TemplateMiner, as_wildcards

ROOT = Path(__file__).resolve().parents[1]
BRAIN_RUNNER = Path(__file__).resolve().parent / "brain_runner.py"
#: (group label per line, template per line)
Parse = tuple[list[Hashable], list[str]]
Parser = Callable[[Sequence[str]], Parse]
_PLACEHOLDER = re.compile(r"<\*>|<(?:NUM|IP|HEX|UUID|ID)>[a-zA-Z%]*")
_WILDCARDS = re.compile(r"<\*>(?:<\*>)+")


def load_dataset(path: Path) -> tuple[list[str], list[str], list[str]]:
    """``Content``, ``EventId`` and ``EventTemplate`` of a Loghub structured CSV, in order."""
    with path.open(newline="", encoding="utf-8", errors="replace") as handle:
        rows = list(csv.DictReader(handle))
    return (
        [row["Content"] or "" for row in rows],
        [row["EventId"] for row in rows],
        [row.get("EventTemplate") or "" for row in rows],
    )


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


def normalise_template(template: str) -> str:
    """Placeholders as ``<*>``, no whitespace, consecutive ``<*>`` as one (for PA)."""
    text = "".join(_PLACEHOLDER.sub("<*>", template).split())
    return _WILDCARDS.sub("<*>", text)


def parsing_accuracy(predicted: Sequence[str], truth: Sequence[str]) -> float:
    """Share (0..1) of lines whose normalised predicted template equals the truth's."""
    if not truth:
        return 1.0
    cache: dict[str, str] = {}

    def norm(text: str) -> str:
        if text not in cache:
            cache[text] = normalise_template(text)
        return cache[text]

    same = sum(1 for p, t in zip(predicted, truth, strict=True) if norm(p) == norm(t))
    return same / len(truth)


def ours(contents: Sequence[str]) -> Parse:
    """Groups and shown templates from a fresh ``TemplateMiner``."""
    miner = TemplateMiner()
    matches = [miner.add(line) for line in contents]
    group_of = miner.groups()
    labels: list[Hashable] = [group_of.get(m.cluster_id, m.cluster_id) for m in matches]
    forms: dict[Hashable, dict[str, int]] = defaultdict(dict)
    for label, match in zip(labels, matches, strict=True):
        seen = forms[label]
        seen[match.masked] = seen.get(match.masked, 0) + 1
    shown = {label: as_wildcards(merge_forms(f)) for label, f in forms.items()}
    return labels, [shown[label] for label in labels]


def stock_drain3(contents: Sequence[str]) -> Parse:
    """Cluster ids and final templates from a fresh stock drain3 ``TemplateMiner``."""
    miner = StockTemplateMiner(config=TemplateMinerConfig())
    labels: list[Hashable] = [miner.add_log_message(line)["cluster_id"] for line in contents]
    templates = {c.cluster_id: c.get_template() for c in miner.drain.clusters}
    return labels, [templates[label] for label in labels]  # type: ignore[index]


def timed(parser: Parser, contents: Sequence[str], repeats: int) -> tuple[Parse, float]:
    """(result of the first run, lines per second of the fastest run)."""
    result: Parse = ([], [])
    best = float("inf")
    for run in range(max(1, repeats)):
        started = time.perf_counter()
        output = parser(contents)
        best = min(best, time.perf_counter() - started)
        if run == 0:
            result = output
    return result, len(contents) / best if best > 0 else float("inf")


def find_brain_python(explicit: str | None) -> tuple[str | None, str]:
    """(interpreter with logparser3, or None; a note saying which or why none)."""
    candidates = [explicit, os.environ.get("MENDBOT_BRAIN_PYTHON")]
    candidates.append(str(ROOT / ".venv-brain" / "bin" / "python"))
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate, f"Brain (logparser3) run by {candidate}"
    probe = subprocess.run([sys.executable, "-c", "import logparser.Brain"], capture_output=True)
    if probe.returncode == 0:
        return sys.executable, "Brain (logparser3) run by this interpreter"
    return None, (
        "Brain skipped: no interpreter with logparser3 (python3 -m venv .venv-brain && "
        ".venv-brain/bin/pip install -r bench/requirements-brain.txt; it pins "
        "regex==2022.3.2, which dspy cannot share a venv with)"
    )


def brain(python: str, name: str, log_file: Path, repeats: int) -> tuple[Parse, float] | None:
    """Brain's groups, templates and lines/s on one raw log, or None (no settings, error)."""
    if not log_file.is_file():
        return None
    done = subprocess.run(
        [python, str(BRAIN_RUNNER), name, str(log_file), "--repeats", str(repeats)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return None
    result: dict[str, Any] = json.loads(done.stdout)
    return (result["labels"], result["templates"]), result["lines"] / result["seconds"]


def datasets(data_dir: Path) -> list[Path]:
    """Every ``<System>/<System>_2k.log_structured.csv`` under ``data_dir``, sorted by name."""
    return sorted(data_dir.glob("*/*_2k.log_structured.csv"))


def _figures(prefix: str, parse: Parse, speed: float, truth: tuple[list[str], list[str]]):
    labels, templates = parse
    return {
        f"{prefix}ga": round(group_accuracy(labels, truth[0]), 4),
        f"{prefix}pa": round(parsing_accuracy(templates, truth[1]), 4),
        f"{prefix}lines_per_s": round(speed),
    }


def run(data_dir: Path, repeats: int = 3, brain_python: str | None = None) -> list[dict[str, Any]]:
    """Measure the three parsers on every dataset; one result dict per dataset."""
    results: list[dict[str, Any]] = []
    for path in datasets(data_dir):
        contents, event_ids, templates = load_dataset(path)
        truth = (event_ids, templates)
        row: dict[str, Any] = {"name": path.parent.name, "lines": len(contents)}
        row |= _figures("", *timed(ours, contents, repeats), truth)
        row |= _figures("drain3_", *timed(stock_drain3, contents, repeats), truth)
        row |= {"brain_ga": None, "brain_pa": None, "brain_lines_per_s": None}
        log_file = path.with_name(path.name.removesuffix("_structured.csv"))
        reference = brain(brain_python, row["name"], log_file, repeats) if brain_python else None
        if reference is not None and len(reference[0][0]) == len(contents):
            row |= _figures("brain_", *reference, truth)
        results.append(row)
    return results


def summary(results: list[dict[str, Any]]) -> dict[str, float | None]:
    """Means (and the lowest GA) per parser, and the lowest ratio of our lines/s to Brain's."""
    out: dict[str, float | None] = {}
    for prefix in ("", "drain3_", "brain_"):
        for key in ("ga", "pa"):
            values = [r[prefix + key] for r in results if r[prefix + key] is not None]
            out[f"mean_{prefix}{key}"] = round(sum(values) / len(values), 4) if values else None
        gas = [r[prefix + "ga"] for r in results if r[prefix + "ga"] is not None]
        out[f"min_{prefix}ga"] = min(gas) if gas else None
    ratios = [r["lines_per_s"] / r["brain_lines_per_s"] for r in results if r["brain_lines_per_s"]]
    out["min_speedup_vs_brain"] = round(min(ratios), 1) if ratios else None
    return out


def _cell(value: Any, width: int, spec: str) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}{spec}}"


def _table(results: list[dict[str, Any]], note: str) -> str:
    head = f"{'':<12}{'ours':^26}|{'stock drain3':^26}|{'Brain (tuned)':^26}"
    cols = f"{'dataset':<12}" + f"{'GA':>7}{'PA':>7}{'lines/s':>12}|" * 3
    lines = [head, cols]
    for r in results:
        cells = [f"{r['name']:<12}"]
        for prefix in ("", "drain3_", "brain_"):
            cells.append(
                _cell(r[prefix + "ga"], 7, ".3f")
                + _cell(r[prefix + "pa"], 7, ".3f")
                + _cell(r[prefix + "lines_per_s"], 12, ",")
                + "|"
            )
        lines.append("".join(cells))
    s = summary(results)
    mean = [f"{'mean':<12}"]
    for prefix in ("", "drain3_", "brain_"):
        mean.append(_cell(s[f"mean_{prefix}ga"], 7, ".3f") + _cell(s[f"mean_{prefix}pa"], 7, ".3f"))
        mean.append(f"{'':>12}|")
    lines.append("".join(mean))
    lines.append(
        f"lowest GA (ours) {s['min_ga']}; lowest speed-up over Brain: "
        f"{s['min_speedup_vs_brain']}x. {note}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point; returns the exit code (0, or 2 without datasets)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per parser (3)")
    parser.add_argument("--brain-python", help="interpreter that has logparser3 installed")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)  # drain3 logs at INFO/WARNING on every miner it builds
    python, note = find_brain_python(args.brain_python)
    results = run(args.data_dir, args.repeats, python)
    if not results:
        print(
            f"grouping: no <System>/<System>_2k.log_structured.csv under {args.data_dir}",
            file=sys.stderr,
        )
        return 2
    if python is None:
        print(f"grouping: {note}", file=sys.stderr)
    if args.json:
        print(json.dumps({"datasets": results, "summary": summary(results), "brain": note}))
    else:
        print(_table(results, note))
    return 0


if __name__ == "__main__":
    sys.exit(main())
