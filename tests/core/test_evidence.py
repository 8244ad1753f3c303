"""Evidence agrees with the code: which scope a traceback names for a line, what emits a
message, and finding a line again once lines above it moved."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from core.evidence import MAX_EVIDENCE, locate, recheck, scope_names
from core.policy import DEFAULT_POLICY
from tests.fakes.proposals import make_proposal

CODE = '''"""A module."""
import logging

log = logging.getLogger("svc")
LIMIT = 3000


@route(lambda req: req.ok)
def handler(req, default=lambda: 0):
    """Docstring."""
    # a comment
    values = [v * 2 for v in req.items]
    total = sum(v for v in values)
    log.warning("limit reached (limit=%d, total=%d)", LIMIT, total)
    if total > LIMIT:
        raise ValueError("total over the limit")
    assert total != "limit reached here", "never"
    return total


class Handler:
    retries = 3

    def get(self):
        return self.retries
'''


def _line(fragment: str) -> int:
    return next(n for n, text in enumerate(CODE.splitlines(), 1) if fragment in text)


@pytest.mark.parametrize(
    ("fragment", "names"),
    [
        ('"""A module."""', {"<module>"}),
        ("@route", {"<module>", "<lambda>"}),
        ("def handler", {"<module>", "<lambda>"}),  # defaults run outside the function
        ('"""Docstring."""', {"handler"}),
        ("values = [", {"handler", "<listcomp>"}),  # 3.12+ inlines the comprehension
        ("total = sum", {"handler", "<genexpr>"}),
        ("retries = 3", {"Handler"}),
        ("class Handler", {"<module>"}),
        ("return self.retries", {"get"}),
    ],
)
def test_the_scope_a_traceback_would_name(fragment: str, names: set[str]) -> None:
    assert scope_names(ast.parse(CODE), _line(fragment)) == names


@pytest.mark.parametrize(
    ("line", "function", "holds"),
    [
        (_line("log.warning"), "handler", True),
        (_line("log.warning"), "Handler.handler", True),  # a qualified name
        (_line("return self.retries"), "Handler.get", True),
        (_line("log.warning"), "get", False),
        (_line("# a comment"), "handler", False),
        (_line("def handler") - 1, "handler", False),
        (_line("def handler"), "handler", False),
        (999, "handler", False),
        (0, "handler", False),
    ],
)
def test_a_frame_holds_only_where_its_function_is(line: int, function: str, holds: bool) -> None:
    item = locate(
        CODE, path="svc.py", line=line, kind="frame", detail="/app/svc.py", function=function
    )
    assert (item is not None) is holds


@pytest.mark.parametrize(
    ("fragment", "text", "holds"),
    [
        ("log.warning", "limit reached (limit=", True),
        ("raise ValueError", "total over the limit", True),
        ("assert total", "limit reached here", False),  # compared, not written
        ("# a comment", "a comment", False),
        ("log = logging", "svc", False),  # too short to count
    ],
)
def test_an_emitter_is_a_call_or_raise_that_carries_the_text(
    fragment: str, text: str, holds: bool
) -> None:
    item = locate(CODE, path="svc.py", line=_line(fragment), kind="emitter", detail=text)
    assert (item is not None) is holds


def test_a_definition_is_an_assignment_of_the_name() -> None:
    assert locate(
        CODE, path="svc.py", line=_line("LIMIT = 3000"), kind="definition", detail="LIMIT"
    )
    assert not locate(
        CODE, path="svc.py", line=_line("LIMIT = 3000"), kind="definition", detail="log"
    )
    assert not locate("x = (\n", path="svc.py", line=1, kind="definition", detail="x")


def _stored(tmp_path: Path, text: str) -> tuple[Path, list]:
    (tmp_path / "app.py").write_text(text)
    frame = locate(
        CODE,
        path="app.py",
        line=_line("log.warning"),
        kind="frame",
        detail="/app/app.py",
        function="handler",
    )
    return tmp_path, [frame]


def test_recheck_finds_a_moved_line_and_refuses_a_changed_one(tmp_path: Path) -> None:
    root, evidence = _stored(tmp_path, "# new first line\n" + CODE)
    proposal = make_proposal([], evidence=evidence)
    check = recheck(root, proposal.evidence, anomaly=proposal.anomaly, policy=DEFAULT_POLICY)
    assert [item.line for item in check.held] == [_line("log.warning") + 1]

    (root / "app.py").write_text(CODE.replace('log.warning("limit', 'log.info("limit'))
    check = recheck(root, proposal.evidence, anomaly=proposal.anomaly, policy=DEFAULT_POLICY)
    assert check.held == [] and "changed or never was" in (check.reason_for("app.py") or "")


def test_recheck_refuses_what_the_anomaly_does_not_show_and_odd_paths(tmp_path: Path) -> None:
    root, evidence = _stored(tmp_path, CODE)
    proposal = make_proposal([], evidence=evidence)
    other = make_proposal([], evidence=[])  # an anomaly without that frame
    check = recheck(root, proposal.evidence, anomaly=other.anomaly, policy=DEFAULT_POLICY)
    assert "not something the anomaly shows" in (check.reason_for("app.py") or "")

    flood = recheck(
        root, evidence * (MAX_EVIDENCE + 1), anomaly=proposal.anomaly, policy=DEFAULT_POLICY
    )
    assert flood.held == []

    os.symlink("app.py", root / "link.py")
    odd = [("link.py", "symlink"), ("./app.py", "normal form"), ("x/../app.py", "not something")]
    for path, reason in odd:
        moved = [
            item.model_copy(update={"path": path, "detail": f"/app/{path}"}) for item in evidence
        ]
        frames = make_proposal([], evidence=moved)
        check = recheck(root, moved, anomaly=frames.anomaly, policy=DEFAULT_POLICY)
        assert check.held == [] and reason in (check.reason_for(path) or ""), path


def test_a_definition_needs_an_emitter_beside_it(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(CODE)
    definition = locate(
        CODE, path="svc.py", line=_line("LIMIT = 3000"), kind="definition", detail="LIMIT"
    )
    emitter = locate(
        CODE,
        path="svc.py",
        line=_line("log.warning"),
        kind="emitter",
        detail="limit reached (limit=",
    )
    proposal = make_proposal([], evidence=[])
    anomaly = proposal.anomaly.model_copy(
        update={"template": "limit reached (limit=<NUM>, total=<NUM>)"}
    )
    alone = recheck(tmp_path, [definition], anomaly=anomaly, policy=DEFAULT_POLICY)
    both = recheck(tmp_path, [emitter, definition], anomaly=anomaly, policy=DEFAULT_POLICY)
    assert alone.held == [] and [i.kind for i in both.held] == ["emitter", "definition"]
