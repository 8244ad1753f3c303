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
from fixes.apply.journal import Journal, JournalError
from fixes.apply.transaction import ApplyTransaction
from fixes.apply.validation import Validator
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


@pytest.mark.parametrize(("command", "status"), [("exit 1", "rolled_back"), (None, "applied")])
def test_a_created_file_is_committed_or_removed_with_its_directories(
    service: RepoPair, command: str | None, status: str
) -> None:
    """New files are refused by policy (core.edits.may_create); the transaction still
    creates and removes them, for the one exception planned (a proven fix's test)."""
    gitops = GitOps.open(
        service.work, remote="origin", branch="main", author_name="m", author_email="m@x"
    )
    journal = Journal(git_dir=gitops.git_dir, repo_root=gitops.root)
    validator = Validator(
        repo_root=gitops.root, command=command, timeout_seconds=60, import_check=False
    )
    created = gitops.root / "lib" / "extra" / "helpers.py"
    before, base = tree_hashes(service.work), gitops.preflight()

    outcome = ApplyTransaction.begin(
        gitops=gitops,
        journal=journal,
        proposal_id=FIX_ID,
        base_sha=base,
        contents={created: b"def helper():\n    return 1\n"},
        validator=validator,
        baseline=validator.baseline(["lib/extra/helpers.py"]),
        on_event=lambda _e: None,
    ).run(f"Auto-fix: add a helper\n\nFix-Id: {FIX_ID}\n")

    assert outcome.status == status, outcome.reason
    if status == "rolled_back":
        _assert_untouched(service, before, base)
        assert not (service.work / "lib" / "extra").exists()
    else:
        assert git(service.bare, "show", "main:lib/extra/helpers.py").startswith("def helper")
