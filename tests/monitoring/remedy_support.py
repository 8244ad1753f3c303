"""Test support for the remedies: a repository from source texts, a traceback into it.

``diagnose(tmp_path, files, at=...)`` writes the files, builds the anomaly a traceback
raised on the first line containing ``at`` would give (frames as the parser reports
them: ``/app/...`` paths, a library frame outside), and runs the offline playbook on it.
``run_fixed`` executes a file's text with the draft's edits applied, so a test can call
the fixed function for real.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path
from typing import Any

from core.edits import check_edits
from core.models import Anomaly, FrameModel, Severity
from monitoring.diagnosis.context import build_context
from monitoring.diagnosis.draft import Draft
from monitoring.diagnosis.playbooks import run_playbook
from monitoring.diagnosis.repo import RepoIndex
from tests.fakes import anomalies as A

LIB = "/usr/lib/python3.11/site-packages/framework/routing.py"


def write(root: Path, files: dict[str, str]) -> RepoIndex:
    """Write ``files`` (dedented) under ``root`` and index them."""
    for name, text in files.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(text).lstrip())
    return RepoIndex(root=root)


def line_of(index: RepoIndex, path: str, marker: str) -> int:
    """The 1-based number of the first line of ``path`` that contains ``marker``."""
    return next(n for n, text in enumerate(index.lines(path), 1) if marker in text)


def traceback_anomaly(
    index: RepoIndex,
    *,
    path: str,
    at: str,
    exception: str,
    message: str,
    outer: list[tuple[str, str]] = (),  # type: ignore[assignment]
    **fields: Any,
) -> Anomaly:
    """An exception anomaly raised on the line of ``path`` holding ``at``.

    Args:
        outer: (path, marker) of in-app callers, outermost first.
    """
    frames = [FrameModel(file=LIB, line=10, function="handle")]
    for caller_path, marker in outer:
        line = line_of(index, caller_path, marker)
        frames.append(
            FrameModel(
                file=f"/app/{caller_path}", line=line, function=_function(index, caller_path, line)
            )
        )
    line = line_of(index, path, at)
    frames.append(FrameModel(file=f"/app/{path}", line=line, function=_function(index, path, line)))
    base: dict[str, Any] = {
        "kind": "repeated_error",
        "fingerprint": "f" * 16,
        "count": 7,
        "template": f"{exception} in {frames[-1].function} ({path})",
        "severity": Severity.HIGH,
        "exception_type": exception,
        "exception_message": message,
        "frames": frames,
    }
    base.update(fields)
    return A.anomaly(**base)


def diagnose(
    tmp_path: Path, files: dict[str, str], *, path: str | None = None, **kw: Any
) -> tuple[Draft, RepoIndex]:
    """The playbook's draft for a traceback into ``files`` (see :func:`traceback_anomaly`)."""
    index = write(tmp_path, files)
    anomaly = traceback_anomaly(index, path=path or next(iter(files)), **kw)
    return playbook(anomaly, index), index


def playbook(anomaly: Anomaly, index: RepoIndex) -> Draft:
    """Run the offline playbook on ``anomaly`` against ``index``."""
    return run_playbook(anomaly, build_context(anomaly, index), index)


def fixed_text(index: RepoIndex, draft: Draft) -> str:
    """The one edited file's text once the edits apply (checked); it must parse."""
    check_edits(index.root, draft.edits)
    [path] = {e.path for e in draft.edits}
    text = (index.root / path).read_text()
    for edit in draft.edits:
        assert text.count(edit.old_text) == 1
        text = text.replace(edit.old_text, edit.new_text, 1)
    ast.parse(text)
    return text


def run_fixed(index: RepoIndex, draft: Draft) -> dict[str, Any]:
    """Execute the fixed file's text; returns its namespace (its functions, callable)."""
    namespace: dict[str, Any] = {"__name__": "fixed"}
    exec(compile(fixed_text(index, draft), "fixed.py", "exec"), namespace)
    return namespace


def _function(index: RepoIndex, path: str, line: int) -> str:
    tree = index.tree(path)
    best = "<module>"
    for node in ast.walk(tree) if tree else ():
        inside = getattr(node, "lineno", 0) <= line <= (getattr(node, "end_lineno", 0) or 0)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and inside:
            best = node.name
    return best
