"""Proven fixes: the regression test fails on the unfixed tree and passes on the fixed one.

On a real checkout with a bare remote, with pytest really run in the service's
environment: a test that reproduces the logged exception is committed with the fix and
named in a ``Proven-by:`` trailer; one that does not reproduce it is left out and the
fix says it has no proof; one that still fails after the fix rolls everything back. The
one new file a proposal may create is its own ``tests/mendbot/test_<id>.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from core.notifier import InMemoryNotifier
from core.proposals import Edit, ProposalStatus, RegressionTest
from monitoring.runtime import Runtime, build_runtime
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import KEYERROR_FIX, SERVICE, make_proposal, tree_hashes

#: Calls orders() the way the log shows it failing: an unknown user.
REPRODUCES = """import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2]))

from app import orders


def test_an_unknown_user_is_answered():
    assert orders({"amount": 3, "user_id": "ghost"})["ok"] is False
"""
PASSES_ANYWAY = REPRODUCES.replace(
    'orders({"amount": 3, "user_id": "ghost"})["ok"] is False', "orders is not None"
)
WRONG_EXCEPTION = REPRODUCES.replace(
    'assert orders({"amount": 3, "user_id": "ghost"})["ok"] is False', "{}.pop('x', None).y"
)
TEST_COMMAND = f"{sys.executable} -m pytest -q -p no:cacheprovider"


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def runtime(make_settings, database_url: str, service: RepoPair):
    settings = make_settings(
        database_url=database_url, target_repo_path=service.work, test_command=TEST_COMMAND
    )
    built: Runtime = build_runtime(settings, notifier=InMemoryNotifier())
    yield built
    built.close()


def _add(runtime: Runtime, edits: list[Edit], test: str, fails_with: str | None = "KeyError"):
    proposal = make_proposal(edits).model_copy(
        update={"regression_test": RegressionTest(content=test, fails_with=fails_with)}
    )
    return runtime.store.add(proposal)


def test_a_test_that_fails_before_and_passes_after_proves_the_fix(runtime, service):
    proposal = _add(runtime, [KEYERROR_FIX], REPRODUCES)
    test_path = f"tests/mendbot/test_{proposal.id}.py"
    assert proposal.regression_test is not None and proposal.regression_test.path == test_path

    final = runtime.decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.APPLIED, final.error
    assert final.proven is True and runtime.store.get(proposal.id).proven is True
    committed = git(service.bare, "show", "--name-only", "--format=", "main").splitlines()
    assert sorted(committed) == ["app.py", test_path]
    message = service.remote_message()
    assert f"Proven-by: {test_path}" in message
    assert "Proven by a test that failed before the fix and passes after it" in message
    applied = [e for e in runtime.notifier.events if e[1].kind == "applied"]
    assert applied and applied[-1][1].details["proven"] is True


def test_a_test_that_does_not_reproduce_the_failure_is_left_out(runtime, service):
    proposal = _add(runtime, [KEYERROR_FIX], PASSES_ANYWAY)

    final = runtime.decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.APPLIED, final.error
    assert final.proven is False
    assert git(service.bare, "show", "--name-only", "--format=", "main") == "app.py"
    assert not (service.work / "tests" / "mendbot").exists()
    assert "No proof: the regression test did not reproduce" in service.remote_message()
    assert "Proven-by" not in service.remote_message()


def test_failing_with_another_exception_is_not_a_reproduction(runtime, service):
    proposal = _add(runtime, [KEYERROR_FIX], WRONG_EXCEPTION)
    final = runtime.decisions.implement(proposal.id, actor="U1")
    assert final.status is ProposalStatus.APPLIED and final.proven is False


def test_a_fix_that_leaves_its_test_failing_is_rolled_back_byte_for_byte(runtime, service):
    # An edit in the evidenced file that does not fix anything.
    harmless = Edit(
        path="app.py",
        old_text='    return {"ok": True, "user": user}',
        new_text='    return {"ok": True, "user": user, "v": 2}',
    )
    proposal = _add(runtime, [harmless], REPRODUCES)
    before, base = tree_hashes(service.work), service.remote_head()

    final = runtime.decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.ROLLED_BACK
    assert "failed before the fix and still fails after it" in (final.error or "")
    assert tree_hashes(service.work) == before and service.remote_head() == base
    assert not (service.work / "tests").exists()


def test_a_failed_validation_removes_the_test_and_its_folders(make_settings, database_url, service):
    settings = make_settings(
        database_url=database_url,
        target_repo_path=service.work,
        test_command=TEST_COMMAND,
        validate_command="exit 1",
    )
    runtime = build_runtime(settings, notifier=InMemoryNotifier())
    try:
        proposal = _add(runtime, [KEYERROR_FIX], REPRODUCES)
        before = tree_hashes(service.work)
        final = runtime.decisions.implement(proposal.id, actor="U1")
    finally:
        runtime.close()
    assert final.status is ProposalStatus.ROLLED_BACK
    assert tree_hashes(service.work) == before
    assert not (service.work / "tests").exists()


@pytest.mark.parametrize(
    "edits",
    [
        [KEYERROR_FIX, Edit(path="lib/new_helper.py", old_text="", new_text="X = 1\n")],
        [
            KEYERROR_FIX,
            Edit(
                path="tests/mendbot/test_fix_20990101_000000.py",
                old_text="",
                new_text="def test(): pass\n",
            ),
        ],
    ],
    ids=["a-module", "another-fixs-test-path"],
)
def test_an_edit_may_not_create_a_file(runtime, service, edits):
    proposal = runtime.store.add(make_proposal(edits))
    before = tree_hashes(service.work)
    final = runtime.decisions.implement(proposal.id, actor="U1")
    assert final.status is ProposalStatus.FAILED
    assert "only the regression test may be a new file" in (final.error or "")
    assert tree_hashes(service.work) == before


def test_a_regression_test_moved_to_another_path_is_refused(runtime, service):
    proposal = _add(runtime, [KEYERROR_FIX], REPRODUCES)
    moved = proposal.regression_test.model_copy(update={"path": "app_test.py"})  # type: ignore[union-attr]
    row = proposal.model_copy(update={"regression_test": moved, "status": ProposalStatus.APPROVED})
    outcome = runtime.implementor.apply(row, approved_by="U1", on_event=lambda e: None)
    assert outcome.status == "failed"
    assert f"must be at tests/mendbot/test_{proposal.id}.py" in (outcome.reason or "")
