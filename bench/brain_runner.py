"""Benchmark (log analysis): run Brain (logpai's ``logparser3``) on one Loghub sample, as a child.

``bench/grouping.py`` starts this script with an interpreter that has ``logparser3``
installed (its own venv: logparser3 pins ``regex==2022.3.2``, which dspy cannot share a
venv with) and reads one JSON object from its stdout::

    {"name", "lines", "labels": [EventId per line], "templates": [EventTemplate per line],
     "seconds": best wall time of LogParser.parse over the repeats}

Brain runs exactly as its own ``logparser/Brain/benchmark.py`` runs it: on the raw
``<System>_2k.log`` with that file's per-dataset settings (log format, masking regexes,
delimiters, threshold; copied below from logpai/logparser, Apache-2.0), the dataset name
passed as ``logname`` (Brain.py splits tokens per dataset by that name). These per-dataset
settings are the reference's, never mendbot's. Exit code 3 when the dataset has no Brain
settings, 4 when ``logparser3`` cannot be imported.

Usage (by bench/grouping.py)::

    python bench/brain_runner.py NAME LOG_FILE [--repeats N]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# logparser/Brain/benchmark.py, benchmark_settings (logpai/logparser, Apache-2.0).
BRAIN_SETTINGS: dict[str, dict[str, Any]] = {
    "Proxifier": {
        "log_format": r"\[<Time>\] <Program> - <Content>",
        "regex": [r"<\d+\ssec", r"([\w-]+\.)+[\w-]+(:\d+)?", r"\d{2}:\d{2}(:\d{2})*", r"[KGTM]B"],
        "delimiter": [r"\(.*?\)"],
        "threshold": 3,
    },
    "HDFS": {
        "log_format": "<Date> <Time> <Pid> <Level> <Component>: <Content>",
        "regex": [r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"],
        "delimiter": [""],
        "threshold": 2,
    },
    "Hadoop": {
        "log_format": r"<Date> <Time> <Level> \[<Process>\] <Component>: <Content>",
        "regex": [r"(\d+\.){3}\d+"],
        "delimiter": [],
        "threshold": 6,
    },
    "Spark": {
        "log_format": "<Date> <Time> <Level> <Component>: <Content>",
        "regex": [r"(\d+\.){3}\d+", r"\b[KGTM]?B\b", r"([\w-]+\.){2,}[\w-]+"],
        "delimiter": [],
        "threshold": 4,
    },
    "Zookeeper": {
        "log_format": r"<Date> <Time> - <Level>  \[<Node>:<Component>@<Id>\] - <Content>",
        "regex": [r"(/|)(\d+\.){3}\d+(:\d+)?"],
        "delimiter": [],
        "threshold": 3,
    },
    "BGL": {
        "log_format": "<Label> <Timestamp> <Date> <Node> <Time> <NodeRepeat> <Type> <Component> "
        "<Level> <Content>",
        "regex": [r"core\.\d+"],
        "delimiter": [],
        "threshold": 6,
    },
    "HPC": {
        "log_format": "<LogId> <Node> <Component> <State> <Time> <Flag> <Content>",
        "regex": [],
        "delimiter": [],
        "threshold": 5,
    },
    "Thunderbird": {
        "log_format": r"<Label> <Timestamp> <Date> <User> <Month> <Day> <Time> <Location> "
        r"<Component>(\[<PID>\])?: <Content>",
        "regex": [r"(\d+\.){3}\d+"],
        "delimiter": [],
        "threshold": 3,
    },
    "Windows": {
        "log_format": "<Date> <Time>, <Level>                  <Component>    <Content>",
        "regex": [r"0x.*?\s"],
        "delimiter": [],
        "threshold": 3,
    },
    "Linux": {
        "log_format": r"<Month> <Date> <Time> <Level> <Component>(\[<PID>\])?: <Content>",
        "regex": [r"(\d+\.){3}\d+", r"\d{2}:\d{2}:\d{2}", r"J([a-z]{2})"],
        "delimiter": [r""],
        "threshold": 4,
    },
    "Android": {
        "log_format": "<Date> <Time>  <Pid>  <Tid> <Level> <Component>: <Content>",
        "regex": [
            r"(/[\w-]+)+",
            r"([\w-]+\.){2,}[\w-]+",
            r"\b(\-?\+?\d+)\b|\b0[Xx][a-fA-F\d]+\b|\b[a-fA-F\d]{4,}\b",
        ],
        "delimiter": [r""],
        "threshold": 5,
    },
    "HealthApp": {
        "log_format": r"<Time>\|<Component>\|<Pid>\|<Content>",
        "regex": [],
        "delimiter": [r""],
        "threshold": 4,
    },
    "Apache": {
        "log_format": r"\[<Time>\] \[<Level>\] <Content>",
        "regex": [r"(\d+\.){3}\d+"],
        "delimiter": [],
        "threshold": 4,
    },
    "OpenSSH": {
        "log_format": r"<Date> <Day> <Time> <Component> sshd\[<Pid>\]: <Content>",
        "regex": [r"(\d+\.){3}\d+", r"([\w-]+\.){2,}[\w-]+"],
        "delimiter": [],
        "threshold": 6,
    },
    "OpenStack": {
        "log_format": r"<Logrecord> <Date> <Time> <Pid> <Level> <Component> \[<ADDR>\] <Content>",
        "regex": [r"((\d+\.){3}\d+,?)+", r"/.+?\s ", r"\d+"],
        "delimiter": [],
        "threshold": 5,
    },
    "Mac": {
        "log_format": r"<Month>  <Date> <Time> <User> <Component>\[<PID>\]( \(<Address>\))?: "
        r"<Content>",
        "regex": [r"([\w-]+\.){2,}[\w-]+"],
        "delimiter": [],
        "threshold": 5,
    },
}


def run_brain(name: str, log_file: Path, repeats: int) -> dict[str, Any]:
    """Parse ``log_file`` with Brain ``repeats`` times; the figures of the last run."""
    from logparser.Brain import LogParser  # only in the Brain venv

    setting = BRAIN_SETTINGS[name]
    best = float("inf")
    with tempfile.TemporaryDirectory(prefix="brain-") as out:
        for _ in range(max(1, repeats)):
            parser = LogParser(
                logname=name,
                log_format=setting["log_format"],
                indir=str(log_file.parent),
                outdir=out,
                threshold=setting["threshold"],
                delimeter=setting["delimiter"],
                rex=setting["regex"],
            )
            started = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):  # Brain prints progress
                parser.parse(log_file.name)
            best = min(best, time.perf_counter() - started)
        structured = Path(out) / f"{log_file.name}_structured.csv"
        with structured.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    return {
        "name": name,
        "lines": len(rows),
        "labels": [row["EventId"] for row in rows],
        "templates": [row["EventTemplate"] for row in rows],
        "seconds": best,
    }


def main(argv: list[str] | None = None) -> int:
    """Print Brain's result for one dataset as JSON; exit 3 without settings, 4 without Brain."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name")
    parser.add_argument("log_file", type=Path)
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args(argv)
    if args.name not in BRAIN_SETTINGS:
        print(f"brain: no benchmark settings for {args.name}", file=sys.stderr)
        return 3
    try:
        result = run_brain(args.name, args.log_file, args.repeats)
    except ImportError as error:
        print(f"brain: logparser3 is not importable here: {error}", file=sys.stderr)
        return 4
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
