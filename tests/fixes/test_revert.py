"""Reverting a pushed fix on a real checkout with a real bare remote (Decisions.revert).

Each test applies the KeyError fix for real (commit pushed to the bare remote), then
undoes it: ``git revert`` semantics, validated, committed with ``Reverts-Fix-Id:`` and
``Approved-by:``, pushed, never forced; refusals change nothing, byte for byte.
"""

from __future__ import annotations

import subprocess
import threading
from pathlib import Path

import pytest
import sqlalchemy

from core.notifier import InMemoryNotifier
from core.proposals import Edit, ProposalStatus, RegressionTest
from fixes.apply.history import changed_lines
from fixes.apply.implementor import FixImplementor
from fixes.decisions import DecisionRefused
from fixes.persistence.db import ProposalRow
from monitoring.runtime import Runtime, build_runtime
from tests.fakes.git import RepoPair, git, make_repo, reject_pushes
from tests.fakes.proposals import APP, SERVICE, make_proposal, tree_hashes
from tests.fixes.test_proof import REPRODUCES, TEST_COMMAND


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def runtime_for(make_settings, database_url: str, service: RepoPair):
    built: list[Runtime] = []

    def factory(**overrides: object) -> Runtime:
        overrides.setdefault("target_repo_path", service.work)
        runtime = build_runtime(
            make_settings(database_url=database_url, **overrides), notifier=InMemoryNotifier()
        )
        built.append(runtime)
        return runtime

    yield factory
    for runtime in built:
        runtime.close()


def _trailers(cwd: Path, message: str) -> dict[str, str]:
    out = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        cwd=cwd,
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(": ", 1) for line in out.splitlines())


def _applied(runtime: Runtime, edits: list[Edit] | None = None):
    proposal = runtime.store.add(make_proposal(edits))
    final = runtime.decisions.implement(proposal.id, actor="U0ALICE")
    assert final.status is ProposalStatus.APPLIED, final.error
    return final


def _events(runtime: Runtime, proposal_id: str) -> list[str]:
    assert isinstance(runtime.notifier, InMemoryNotifier)
    return runtime.notifier.event_kinds(proposal_id)


def test_revert_undoes_the_fix_with_trailers_and_pushes(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    before = tree_hashes(service.work)
    fix = _applied(runtime)
    assert tree_hashes(service.work) != before

    result = runtime.decisions.revert(fix.id, actor="U0BOB", reason="still failing")

    assert result.reverted and result.proposal.status is ProposalStatus.REVERTED
    assert tree_hashes(service.work) == before  # every byte as before the fix
    assert service.remote_head() == result.outcome.revert_sha == service.head()
    assert git(service.bare, "rev-parse", f"{result.outcome.revert_sha}^") == fix.commit_sha
    message = service.remote_message()
    assert message.startswith('Revert "Auto-fix: KeyError in orders()"\n\n')
    assert f"\n\nThis reverts commit {fix.commit_sha}.\n\n" in message
    assert "Why: still failing" in message
    assert _trailers(service.work, message) == {"Reverts-Fix-Id": fix.id, "Approved-by": "U0BOB"}
    assert f"Fix-Id: {fix.id}" not in message.replace("Reverts-Fix-Id", "")
    trail = runtime.store.audit_trail(fix.id)
    reverted = trail[-1]
    assert (reverted.action, reverted.actor) == ("reverted", "U0BOB")
    assert reverted.details["revert_sha"] == result.outcome.revert_sha
    assert reverted.details["fix_commit"] == fix.commit_sha
    assert reverted.details["why"] == "still failing" and reverted.details["automatic"] is False
    assert _events(runtime, fix.id)[-3:] == ["reverting", "validation_passed", "reverted"]


@pytest.mark.parametrize("status", ["proposed", "rejected"])
def test_only_a_pushed_fix_can_be_reverted(runtime_for, service: RepoPair, status: str) -> None:
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())
    if status == "rejected":
        runtime.decisions.reject(proposal.id, actor="U0ALICE")
    with pytest.raises(DecisionRefused) as refused:
        runtime.decisions.revert(proposal.id, actor="U0BOB")
    assert refused.value.code == "not_revertible"
    assert f"is {status}" in refused.value.reason
    with pytest.raises(DecisionRefused) as unknown:
        runtime.decisions.revert("fix_20990101_000000", actor="U0BOB")
    assert unknown.value.code == "not_found"


def test_a_revert_that_no_longer_applies_is_refused_and_changes_nothing(
    runtime_for, service: RepoPair, tmp_path: Path
) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    # A colleague rewrites the very lines the fix added.
    fixed = (service.work / "app.py").read_text()
    later = fixed.replace('"unknown user"', '"no such user"')
    head = service.push_from_elsewhere(tmp_path, {"app.py": later}, "wording")
    git(service.work, "pull", "-q", "--ff-only")
    before, events = tree_hashes(service.work), len(_events(runtime, fix.id))

    with pytest.raises(DecisionRefused) as refused:
        runtime.decisions.revert(fix.id, actor="U0BOB")

    assert refused.value.code == "cannot_revert"
    assert "later commits changed the lines this fix changed (app.py)" in refused.value.reason
    assert tree_hashes(service.work) == before
    assert service.remote_head() == head == service.head()
    assert git(service.work, "status", "--porcelain") == ""
    assert not (service.work / ".git" / "mendbot" / "journal.json").exists()
    assert runtime.store.get(fix.id).status is ProposalStatus.APPLIED
    assert len(_events(runtime, fix.id)) == events  # nothing told: the requester is answered


@pytest.mark.parametrize("stored", ["--output=/tmp/x", "HEAD~1", "-n1"])
def test_a_stored_commit_that_is_not_a_sha_is_refused_before_git(
    runtime_for, service: RepoPair, stored: str
) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    table = ProposalRow.__table__  # type: ignore[attr-defined]
    with runtime.db.engine.begin() as conn:  # tampered outside the store
        conn.execute(sqlalchemy.update(table).where(table.c.id == fix.id).values(commit_sha=stored))
    before = tree_hashes(service.work)

    with pytest.raises(DecisionRefused) as refused:
        runtime.decisions.revert(fix.id, actor="U0BOB")

    assert "is not a commit sha" in refused.value.reason
    assert tree_hashes(service.work) == before and service.remote_head() == service.head()


def test_later_commits_elsewhere_in_the_file_are_kept(
    runtime_for, service: RepoPair, tmp_path: Path
) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    fixed = (service.work / "app.py").read_text()
    later = fixed.replace('"""Orders service."""', '"""Orders service (v2)."""')
    service.push_from_elsewhere(tmp_path, {"app.py": later}, "docstring")

    result = runtime.decisions.revert(fix.id, actor="U0BOB")

    assert result.reverted
    assert git(service.bare, "show", "main:app.py") == APP.replace(
        '"""Orders service."""', '"""Orders service (v2)."""'
    ).rstrip("\n")


def test_reverting_a_fix_that_created_a_file_deletes_it(runtime_for, service: RepoPair) -> None:
    # The one new file a fix may create: its regression test, committed once it proved it.
    runtime = runtime_for(test_command=TEST_COMMAND)
    test = RegressionTest(content=REPRODUCES, fails_with="KeyError")
    proposal = runtime.store.add(make_proposal().model_copy(update={"regression_test": test}))
    fix = runtime.decisions.implement(proposal.id, actor="U0ALICE")
    assert fix.status is ProposalStatus.APPLIED and fix.proven is True, fix.error
    created = f"tests/mendbot/test_{fix.id}.py"
    assert (service.work / created).exists()

    result = runtime.decisions.revert(fix.id, actor="U0BOB")

    assert result.reverted
    assert not (service.work / created).exists()
    assert created not in git(service.bare, "ls-tree", "-r", "--name-only", "main")


def test_a_revert_that_fails_validation_restores_every_byte(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    before, head = tree_hashes(service.work), service.remote_head()
    # From now on the checks fail (as a test suite that depends on the fix would).
    assert runtime.implementor is not None
    runtime.implementor.validator.command = "echo the guard is gone >&2; exit 3"

    result = runtime.decisions.revert(fix.id, actor="U0BOB")

    assert not result.reverted and result.outcome.status == "rolled_back"
    assert result.proposal.status is ProposalStatus.APPLIED
    assert tree_hashes(service.work) == before
    assert service.remote_head() == head == service.head()
    assert "validation failed (command)" in (result.outcome.reason or "")
    assert "the guard is gone" in (result.outcome.validation_output or "")
    trail = runtime.store.audit_trail(fix.id)
    assert [e.action for e in trail][-2:] == ["validation_output", "revert_failed"]
    assert _events(runtime, fix.id)[-2:] == ["validation_failed", "revert_failed"]


def test_a_refused_push_keeps_the_revert_on_a_local_branch(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    reject_pushes(service.bare)
    head = service.remote_head()

    result = runtime.decisions.revert(fix.id, actor="U0BOB")

    assert result.outcome.status == "failed"
    assert result.outcome.kept_branch == f"mendbot/revert-{fix.id}"
    assert service.remote_head() == head == service.head()  # never forced
    kept = git(service.work, "log", "-1", "--format=%B", f"mendbot/revert-{fix.id}")
    assert f"Reverts-Fix-Id: {fix.id}" in kept
    assert runtime.store.get(fix.id).status is ProposalStatus.APPLIED


def test_a_revert_already_on_the_remote_is_recorded_without_a_new_commit(
    runtime_for, service: RepoPair, tmp_path: Path
) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    other = tmp_path / "elsewhere"
    git(tmp_path, "clone", "-q", str(service.bare), str(other))
    git(other, "revert", "--no-edit", fix.commit_sha or "")
    message = git(other, "log", "-1", "--format=%B")
    git(other, "commit", "-q", "--amend", "-m", f"{message}\n\nReverts-Fix-Id: {fix.id}")
    git(other, "push", "-q", "origin", "main")
    head = service.remote_head()

    result = runtime.decisions.revert(fix.id, actor="U0BOB")

    assert result.reverted and result.outcome.already
    assert result.outcome.revert_sha == head == service.remote_head()
    assert result.proposal.status is ProposalStatus.REVERTED


def test_two_reverts_at_once_make_one_commit(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    head = service.remote_head()
    results: list[object] = []

    def revert(actor: str) -> None:
        try:
            results.append(runtime.decisions.revert(fix.id, actor=actor))
        except DecisionRefused as refused:
            results.append(refused.code)

    threads = [threading.Thread(target=revert, args=(f"U0P{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(map(str, [r if isinstance(r, str) else "reverted" for r in results])) == [
        "not_revertible",
        "reverted",
    ]
    assert git(service.bare, "rev-list", "--count", f"{head}..main") == "1"
    assert [e.action for e in runtime.store.audit_trail(fix.id)].count("reverted") == 1


def test_a_hostile_reason_cannot_pose_as_a_trailer(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    forged = "x" * 66 + " Fix-Id: fix_20990101_000000\n\nFix-Id: fix_20990101_000001"

    result = runtime.decisions.revert(fix.id, actor="U0BOB", reason=forged)

    assert result.reverted
    message = service.remote_message()
    assert _trailers(service.work, message) == {"Reverts-Fix-Id": fix.id, "Approved-by": "U0BOB"}
    assert runtime.implementor is not None
    gitops = runtime.implementor._open_git()
    assert gitops.find_fix_commit("fix_20990101_000000") is None
    assert gitops.find_fix_commit("fix_20990101_000001") is None


def test_changed_lines_are_the_fixed_files_new_line_numbers(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    fix = _applied(runtime)
    implementor = FixImplementor(repo_path=service.work)
    lines = implementor.changed_lines(fix.commit_sha or "")
    assert lines == {"app.py": [(9, 11)]}
    fixed = (service.work / "app.py").read_text().splitlines()
    assert fixed[8].strip().startswith("user = STATS")
    assert fixed[10].strip().startswith('return {"ok": False')
    assert implementor.changed_lines("0" * 40) == {}
    assert runtime.implementor is not None
    assert changed_lines(runtime.implementor._open_git(), fix.commit_sha or "") == lines
