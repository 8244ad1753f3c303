"""FixImplementor against a remote that moves on or refuses: rebase on top, or keep the fix."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.notifier import InMemoryNotifier
from core.proposals import ProposalStatus
from monitoring.runtime import Runtime, build_runtime
from tests.fakes.git import RepoPair, git, make_repo, reject_pushes
from tests.fakes.proposals import SERVICE, make_proposal


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def runtime_for(make_settings, database_url: str, service: RepoPair):
    built: list[Runtime] = []

    def factory(**overrides: object) -> Runtime:
        settings = make_settings(
            database_url=database_url, target_repo_path=service.work, **overrides
        )
        built.append(build_runtime(settings, notifier=InMemoryNotifier()))
        return built[-1]

    yield factory
    for runtime in built:
        runtime.close()


def _colleague_commit(pair: RepoPair, tmp: Path, files: dict[str, str]) -> Path:
    """A second clone with one commit ready to push (by a VALIDATE_COMMAND script)."""
    other = tmp / "colleague"
    git(tmp, "clone", "-q", str(pair.bare), str(other))
    for name, text in files.items():
        (other / name).write_text(text)
    git(other, "commit", "-q", "-am", "colleague: unrelated change")
    return other


def _push_once_then(tmp: Path, other: Path, *, later: str = "exit 0") -> str:
    """A VALIDATE_COMMAND that pushes the colleague's commit the first time it runs
    (the remote moves on between our fetch and our push), and runs ``later`` after."""
    mark = tmp / "pushed.mark"
    script = tmp / "validate.sh"
    script.write_text(
        "#!/bin/sh\n"
        f"if [ ! -e '{mark}' ]; then touch '{mark}'\n"
        f"  cd '{other}' && git push -q origin main || exit 9\n"
        "  exit 0\n"
        f"fi\n{later}\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def _events(runtime: Runtime, proposal_id: str) -> list[str]:
    notifier = runtime.notifier
    assert isinstance(notifier, InMemoryNotifier)
    return notifier.event_kinds(proposal_id)


def test_remote_moved_without_conflict_fix_lands_on_top(
    runtime_for,
    service: RepoPair,
    tmp_path: Path,
) -> None:
    other = _colleague_commit(service, tmp_path, {"README.md": "# orders, documented\n"})
    runtime = runtime_for(validate_command=_push_once_then(tmp_path, other))
    proposal = runtime.store.add(make_proposal())

    final = runtime.decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.APPLIED, final.error
    colleague = git(other, "rev-parse", "HEAD")
    assert service.remote_head() == final.commit_sha
    assert git(service.bare, "rev-parse", "main^") == colleague
    assert f"Fix-Id: {proposal.id}" in service.remote_message()
    assert git(service.bare, "show", "main:README.md") == "# orders, documented"
    assert '.get(body["user_id"])' in git(service.bare, "show", "main:app.py")
    assert _events(runtime, proposal.id) == [
        "approved",
        "applying",
        "validation_passed",
        "validation_passed",
        "applied",
    ]
    assert git(service.work, "status", "--porcelain") == ""


def test_remote_moved_with_conflict_keeps_the_fix_on_a_local_branch(
    runtime_for,
    service: RepoPair,
    tmp_path: Path,
) -> None:
    conflicting = SERVICE["app.py"].replace(
        '    user = STATS["users"][body["user_id"]]   # bug: unknown users raise KeyError\n',
        '    user = STATS["users"].setdefault(body["user_id"], {})\n',
    )
    other = _colleague_commit(service, tmp_path, {"app.py": conflicting})
    runtime = runtime_for(validate_command=_push_once_then(tmp_path, other))
    proposal = runtime.store.add(make_proposal())

    final = runtime.decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.FAILED
    colleague = git(other, "rev-parse", "HEAD")
    assert service.remote_head() == colleague  # the remote has only the colleague's commit
    assert service.head() == colleague  # the checkout is back at the remote head
    assert git(service.work, "status", "--porcelain") == ""
    kept = f"mendbot/{proposal.id}"
    assert f"Fix-Id: {proposal.id}" in git(service.work, "log", "-1", "--format=%B", kept)
    assert '.get(body["user_id"])' in git(service.work, "show", f"{kept}:app.py")
    assert "conflicts" in (final.error or "") and kept in (final.error or "")
    assert not (service.work / ".git" / "rebase-merge").exists()


def test_push_refused_by_the_server_keeps_the_fix_and_leaves_the_remote(
    runtime_for,
    service: RepoPair,
) -> None:
    reject_pushes(service.bare, "deploys are frozen until Monday")
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())
    before = service.remote_head()

    final = runtime.decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.FAILED
    assert service.remote_head() == before == service.head()
    assert "deploys are frozen until Monday" in (final.error or "")
    kept = f"mendbot/{proposal.id}"
    assert git(service.work, "rev-parse", f"{kept}^") == before
    assert git(service.work, "status", "--porcelain") == ""
    assert [e.action for e in runtime.store.audit_trail(proposal.id)][-1] == "failed"


def test_revalidation_failure_after_rebase_pushes_nothing(
    runtime_for,
    service: RepoPair,
    tmp_path: Path,
) -> None:
    other = _colleague_commit(service, tmp_path, {"README.md": "# orders v2\n"})
    command = _push_once_then(tmp_path, other, later="echo 'integration test broke'; exit 1")
    runtime = runtime_for(validate_command=command)
    proposal = runtime.store.add(make_proposal())

    final = runtime.decisions.implement(proposal.id, actor="U1")

    assert final.status is ProposalStatus.FAILED
    colleague = git(other, "rev-parse", "HEAD")
    assert service.remote_head() == colleague == service.head()
    assert "after rebasing onto it, validation failed (command)" in (final.error or "")
    assert git(service.work, "rev-parse", f"mendbot/{proposal.id}^") == colleague
    outputs = [
        e.details["output"]
        for e in runtime.store.audit_trail(proposal.id)
        if e.action == "validation_output"
    ]
    assert outputs and "integration test broke" in outputs[-1]
