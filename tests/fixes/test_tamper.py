"""A stale or tampered proposal cannot do more than the reviewed one.

A proposal is built the real way (the diagnoser's playbook on the KeyError anomaly, its
edit reviewed against a real checkout), stored, and then changed in the database with SQL,
as someone with write access to it (or a bug) would: the edit's path, its size, its risk
reasons, its evidence, its anomaly. The implementor runs the whole review again and must
refuse each before any file changes: the checkout's bytes and the remote are unchanged.
Then the same for staleness: the code the evidence points at changed since the review.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy

from core.policy import DEFAULT_POLICY
from core.proposals import FixProposal, ProposalStatus, Risk
from core.review import review_change
from fixes.persistence.db import ProposalRow
from monitoring.runtime import Runtime, build_diagnoser, build_runtime
from tests.conftest import ROOT
from tests.fakes import anomalies as A
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import tree_hashes

SERVICE = ROOT / "examples" / "service"
TEST_FILE = "tests/test_app.py"
TEST_TEXT = "from app import orders\n\n\ndef test_orders():\n    assert orders\n"

Body = dict[str, Any]


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    pair = make_repo(tmp_path, {TEST_FILE: TEST_TEXT}, copy_from=SERVICE)
    (pair.work / "mcp.py").write_text("def tool(name):\n    return name.strip()\n")
    git(pair.work, "add", "mcp.py")
    git(pair.work, "commit", "-q", "-m", "mcp helper")
    git(pair.work, "push", "-q", "origin", "main")
    return pair


@pytest.fixture
def runtime(make_settings, database_url: str, service: RepoPair):
    built = build_runtime(make_settings(database_url=database_url, target_repo_path=service.work))
    yield built
    built.close()


def _reviewed(runtime: Runtime) -> FixProposal:
    """The playbook's KeyError guard, as diagnosis built and reviewed it, stored."""
    [proposal] = build_diagnoser(runtime.settings).propose([A.keyerror()])
    assert proposal.edits and proposal.evidence and proposal.risk_reasons == []
    return runtime.store.add(proposal)


def _risky(runtime: Runtime, service: RepoPair) -> FixProposal:
    """A reviewed proposal whose edit adds an import: HIGH, with its reason."""
    base = _reviewed(runtime)
    edit = base.edits[0]
    risky = edit.model_copy(update={"new_text": "    import logging\n" + edit.new_text})
    reviewed = review_change(
        service.work, [risky], base.evidence, anomaly=base.anomaly, policy=DEFAULT_POLICY
    )
    assert reviewed.risk_reasons == ["adds an import (logging)"]
    return runtime.store.add(
        base.model_copy(
            update={
                "id": "",
                "fingerprint": "risky",
                "edits": reviewed.edits,
                "risk": Risk.HIGH,
                "risk_reasons": reviewed.risk_reasons,
            }
        )
    )


def _tamper(runtime: Runtime, proposal_id: str, change: Callable[[Body], None]) -> None:
    """Change the stored row's JSON body with an SQL UPDATE, outside the store."""
    table = ProposalRow.__table__  # type: ignore[attr-defined]
    with runtime.db.engine.begin() as conn:
        body = conn.execute(
            sqlalchemy.select(table.c.body).where(table.c.id == proposal_id)
        ).scalar_one()
        body = dict(body)
        change(body)
        conn.execute(sqlalchemy.update(table).where(table.c.id == proposal_id).values(body=body))


def _whole_function(service: RepoPair) -> str:
    text = (service.work / "app.py").read_text()
    start = text.index('@app.post("/orders")')
    return text[start : text.index('@app.post("/users")')]


def _edit(body: Body, **fields: str) -> None:
    body["edits"][0].update(fields)


TAMPERS: list[tuple[str, Callable[[Body, RepoPair], None]]] = [
    (
        "edit moved to the test file",
        lambda b, s: _edit(b, path=TEST_FILE, old_text="    assert orders", new_text="    pass"),
    ),
    (
        "edit moved to the test file with evidence to match",
        lambda b, s: (
            _edit(b, path=TEST_FILE, old_text="    assert orders", new_text="    pass"),
            b["evidence"][0].update(path=TEST_FILE, line=5, function="test_orders"),
        ),
    ),
    ("edit moved to .git/config", lambda b, s: _edit(b, path=".git/config", old_text="[core]")),
    ("edit moved out of the repository", lambda b, s: _edit(b, path="../remote.git/config")),
    (
        "edit made a new file",
        lambda b, s: _edit(b, path="evil.py", old_text="", new_text="x = 1\n"),
    ),
    (
        "edit widened to a rewrite of the handler",
        lambda b, s: _edit(
            b, old_text=_whole_function(s), new_text="async def orders(req):\n    return {}\n\n"
        ),
    ),
    (
        "edit widened with a shell call",
        lambda b, s: _edit(
            b, new_text=b["edits"][0]["new_text"] + "\n    __import__('os').system('id')"
        ),
    ),
    (
        "second edit to another file",
        lambda b, s: b["edits"].append(
            {"path": "mcp.py", "old_text": "name.strip()", "new_text": "name"}
        ),
    ),
    (
        "evidence pointed at another file",
        lambda b, s: b["evidence"][0].update(path="mcp.py", line=2, function="tool"),
    ),
    (
        "evidence and anomaly pointed at another file",
        lambda b, s: (
            b["evidence"][0].update(path="mcp.py", line=2, function="tool", detail="/app/mcp.py"),
            b["anomaly"]["frames"].append({"file": "/app/mcp.py", "line": 2, "function": "tool"}),
            _edit(b, path="mcp.py", old_text="name.strip()", new_text="name"),
        ),
    ),
    ("evidence removed", lambda b, s: b.update(evidence=[])),
    (
        "evidence claims another line's text",
        lambda b, s: b["evidence"][0].update(code_sha256="0" * 64),
    ),
    ("evidence names another function", lambda b, s: b["evidence"][0].update(function="users")),
    ("anomaly frames removed", lambda b, s: b["anomaly"].update(frames=[])),
    ("evidence flooded", lambda b, s: b.update(evidence=b["evidence"] * 40)),
]


def test_tampered_proposals_are_refused_before_any_change(runtime, service, capsys) -> None:
    failures = []
    for name, tamper in TAMPERS:
        proposal = _reviewed(runtime)
        _tamper(runtime, proposal.id, lambda body, t=tamper: t(body, service))
        before, base = tree_hashes(service.work), service.remote_head()

        final = runtime.decisions.implement(proposal.id, actor="cli:ops")

        refused = final.status is ProposalStatus.FAILED and "refused before any change" in (
            final.error or ""
        )
        untouched = tree_hashes(service.work) == before and service.remote_head() == base
        if not (refused and untouched):
            failures.append(f"{name}: {final.status.value}: {final.error}")
    with capsys.disabled():
        print(f"\n[tampered proposals] tried {len(TAMPERS) + 2}, refused ", end="")
    failures += _understated_risk(runtime, service)
    with capsys.disabled():
        print(len(TAMPERS) + 2 - len(failures))
    assert failures == []
    assert git(service.work, "status", "--porcelain") == ""


def _understated_risk(runtime: Runtime, service: RepoPair) -> list[str]:
    failures = []
    for name, change in [
        ("risk reasons dropped", lambda b: b.update(risk_reasons=[])),
        ("risk lowered to LOW", lambda b: b.update(risk="LOW")),
    ]:
        proposal = _risky(runtime, service)
        _tamper(runtime, proposal.id, change)
        base = service.remote_head()
        final = runtime.decisions.implement(proposal.id, actor="cli:ops")
        if final.status is not ProposalStatus.FAILED or "riskier than the reviewed" not in (
            final.error or ""
        ):
            failures.append(f"{name}: {final.status.value}: {final.error}")
        if service.remote_head() != base:
            failures.append(f"{name}: pushed")
    return failures


@pytest.mark.parametrize("kind", ["reviewed", "risky"])
def test_the_same_proposals_untampered_apply(runtime, service, kind: str) -> None:
    """The controls: the refusals above are the tampering's doing."""
    proposal = _reviewed(runtime) if kind == "reviewed" else _risky(runtime, service)
    final = runtime.decisions.implement(proposal.id, actor="cli:ops")
    assert final.status is ProposalStatus.APPLIED, final.error


def test_evidence_whose_lines_moved_is_found_again(runtime, service) -> None:
    proposal = _reviewed(runtime)
    original = (service.work / "app.py").read_text()
    moved = service.push_from_elsewhere(
        service.work.parent, {"app.py": "# a colleague's comment\n" + original}, "moved"
    )

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.APPLIED, final.error  # same code, one line lower
    assert git(service.bare, "rev-parse", "main~1") == moved


def test_evidence_that_went_stale_is_refused(runtime, service) -> None:
    proposal = _reviewed(runtime)
    renamed = (service.work / "app.py").read_text().replace("def orders(", "def place_order(")
    base = service.push_from_elsewhere(service.work.parent, {"app.py": renamed}, "renamed")

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.FAILED
    assert "evidence for this file no longer holds" in (final.error or "")
    assert service.remote_head() == base
