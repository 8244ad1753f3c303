"""The apply transaction's one way back, on a real checkout with a real bare remote.

Every way out of the block before the push is confirmed (an exception in any step, a
``KeyboardInterrupt``) goes through the same rollback; a rollback that cannot finish is
never reported as a restore.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.notifier import ProposalEvent
from core.proposals import FixProposal
from fixes.apply.gitops import GitOps
from fixes.apply.implementor import FixImplementor
from fixes.apply.journal import JournalError
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import SERVICE, make_proposal, tree_hashes

FIX_ID = "fix_20261121_023300"


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


def _proposal() -> FixProposal:
    return make_proposal().model_copy(update={"id": FIX_ID})


def _implementor(service: RepoPair, command: str | None = None) -> FixImplementor:
    return FixImplementor(repo_path=service.work, validate_command=command, import_check=False)


def _raising_on(kind: str, error: BaseException):
    def sink(event: ProposalEvent) -> None:
        if event.kind == kind:
            raise error

    return sink


def _assert_untouched(service: RepoPair, before: dict[str, str], base: str) -> None:
    assert tree_hashes(service.work) == before
    assert service.head() == base == service.remote_head()
    assert git(service.work, "status", "--porcelain") == ""
    assert not (service.work / ".git" / "mendbot" / "journal.json").exists()


@pytest.mark.parametrize("kind", ["applying", "validation_passed"])
def test_an_error_in_any_step_rolls_back_once_and_says_so(service: RepoPair, kind: str) -> None:
    implementor = _implementor(service)
    before, base = tree_hashes(service.work), service.head()

    outcome = implementor.apply(
        _proposal(), approved_by="U1", on_event=_raising_on(kind, RuntimeError("sink down"))
    )

    assert outcome.status == "rolled_back" and outcome.kept_branch is None
    assert outcome.reason == "internal error, every file was restored: RuntimeError: sink down"
    _assert_untouched(service, before, base)
    again = implementor.apply(_proposal(), approved_by="U1", on_event=lambda _e: None)
    assert again.status == "applied"


def test_keyboard_interrupt_restores_the_files_and_goes_on(service: RepoPair) -> None:
    before, base = tree_hashes(service.work), service.head()

    with pytest.raises(KeyboardInterrupt):
        _implementor(service).apply(
            _proposal(),
            approved_by="U1",
            on_event=_raising_on("validation_passed", KeyboardInterrupt()),
        )

    _assert_untouched(service, before, base)


def test_an_error_after_the_commit_keeps_it_and_resets_the_checkout(
    service: RepoPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, base = tree_hashes(service.work), service.head()

    def push_breaks(self: GitOps) -> None:
        raise RuntimeError("lost https://bot:ghp_secret1234567890@example.com/r.git")

    monkeypatch.setattr(GitOps, "push", push_breaks)
    outcome = _implementor(service).apply(_proposal(), approved_by="U1", on_event=lambda _e: None)

    assert outcome.status == "rolled_back" and outcome.kept_branch == f"mendbot/{FIX_ID}"
    assert "ghp_secret" not in (outcome.reason or "") and "***@" in (outcome.reason or "")
    kept = git(service.work, "log", "-1", "--format=%B", f"mendbot/{FIX_ID}")
    assert f"Fix-Id: {FIX_ID}" in kept
    _assert_untouched(service, before, base)


def test_a_rollback_that_cannot_finish_is_not_reported_as_a_restore(service: RepoPair) -> None:
    backups = service.work / ".git" / "mendbot" / "backups"
    implementor = _implementor(service, command=f"rm -rf '{backups}'; exit 1")

    with pytest.raises(JournalError, match="backup unreadable"):
        implementor.apply(_proposal(), approved_by="U1", on_event=lambda _e: None)

    assert (service.work / ".git" / "mendbot" / "journal.json").exists()  # for a person
