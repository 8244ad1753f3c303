"""kill -9 in the middle of an apply, then start again: the checkout is restored first."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from core.proposals import ProposalStatus
from monitoring.runtime import build_runtime
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import SERVICE, make_proposal, tree_hashes
from tests.fixes.test_concurrency import mendbot_env, start_mendbot

pytestmark = pytest.mark.slow


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def marker():
    """A unique word put in helper commands' command lines, to end exactly those after."""
    word = f"mendbot-test-{uuid.uuid4().hex}"
    yield word
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and word.encode() in (proc / "cmdline").read_bytes():
                os.killpg(int(proc.name), signal.SIGKILL)
        except (OSError, ProcessLookupError):
            continue


def _wait_for_phase(pair: RepoPair, phase: str, process: subprocess.Popen[str]) -> None:
    journal = pair.work / ".git" / "mendbot" / "journal.json"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mendbot exited early: {process.communicate()}")
        try:
            if json.loads(journal.read_text())["phase"] == phase:
                return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise AssertionError(f"the journal never reached {phase}")


def _start_implement(settings, proposal_id: str, cwd: Path, **env: str):
    return start_mendbot(
        ["fixes", "implement", proposal_id, "--as", "ops"], mendbot_env(settings, **env), cwd
    )


def test_kill_during_validation_then_restart_restores_every_byte(
    make_settings,
    database_url: str,
    service: RepoPair,
    tmp_path: Path,
    marker: str,
) -> None:
    settings = make_settings(database_url=database_url, target_repo_path=service.work)
    setup = build_runtime(settings)
    proposal = setup.store.add(make_proposal())
    before, base = tree_hashes(service.work), service.head()

    process = _start_implement(
        settings, proposal.id, tmp_path, VALIDATE_COMMAND=f"sleep 30; echo {marker}"
    )
    _wait_for_phase(service, "written", process)
    assert tree_hashes(service.work) != before  # the fix is in the working tree
    assert setup.store.get(proposal.id).status is ProposalStatus.APPLYING

    live = build_runtime(settings)  # a second start while the apply is alive: hands off
    assert live.recovered == []
    assert tree_hashes(service.work) != before
    live.close()

    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    runtime = build_runtime(settings)

    assert [p.id for p in runtime.recovered] == [proposal.id]
    final = runtime.store.get(proposal.id)
    assert final.status is ProposalStatus.ROLLED_BACK and final.error == "interrupted"
    assert tree_hashes(service.work) == before
    assert service.head() == base == service.remote_head()
    assert git(service.work, "status", "--porcelain") == ""
    assert not (service.work / ".git" / "mendbot" / "journal.json").exists()
    assert [e.action for e in runtime.store.audit_trail(proposal.id)][-1] == "rolled_back"
    setup.close()
    runtime.close()


def _hook(path: Path, body: str) -> None:
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_kill_during_push_keeps_the_commit_and_restores_the_checkout(
    make_settings,
    database_url: str,
    service: RepoPair,
    tmp_path: Path,
    marker: str,
) -> None:
    _hook(service.work / ".git" / "hooks" / "pre-push", f"sleep 30 # {marker}")
    settings = make_settings(database_url=database_url, target_repo_path=service.work)
    setup = build_runtime(settings)
    proposal = setup.store.add(make_proposal())
    before, base = tree_hashes(service.work), service.head()

    process = _start_implement(settings, proposal.id, tmp_path)
    _wait_for_phase(service, "committed", process)
    os.killpg(process.pid, signal.SIGKILL)  # mendbot and its git push, as a container stop
    process.wait(10)
    runtime = build_runtime(settings)

    final = runtime.store.get(proposal.id)
    assert final.status is ProposalStatus.ROLLED_BACK and final.error == "interrupted"
    assert service.remote_head() == base == service.head()
    assert tree_hashes(service.work) == before
    kept = f"mendbot/{proposal.id}"
    assert f"Fix-Id: {proposal.id}" in git(service.work, "log", "-1", "--format=%B", kept)
    setup.close()
    runtime.close()


def test_kill_after_the_remote_took_the_push_records_it_applied(
    make_settings,
    database_url: str,
    service: RepoPair,
    tmp_path: Path,
    marker: str,
) -> None:
    _hook(service.bare / "hooks" / "post-receive", f"sleep 30 # {marker}")
    settings = make_settings(database_url=database_url, target_repo_path=service.work)
    setup = build_runtime(settings)
    proposal = setup.store.add(make_proposal())
    base = service.remote_head()

    process = _start_implement(settings, proposal.id, tmp_path)
    _wait_for_phase(service, "committed", process)
    deadline = time.monotonic() + 30
    while service.remote_head() == base and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    runtime = build_runtime(settings)

    final = runtime.store.get(proposal.id)
    assert final.status is ProposalStatus.APPLIED
    assert final.commit_sha == service.remote_head() == service.head()
    assert git(service.work, "status", "--porcelain") == ""
    setup.close()
    runtime.close()


def test_a_push_that_outlives_its_killed_parent_is_waited_for(
    make_settings,
    database_url: str,
    service: RepoPair,
    tmp_path: Path,
    marker: str,
) -> None:
    pushing = tmp_path / "push-started"
    _hook(service.work / ".git" / "hooks" / "pre-push", f"touch {pushing}; sleep 2 # {marker}")
    settings = make_settings(database_url=database_url, target_repo_path=service.work)
    setup = build_runtime(settings)
    proposal = setup.store.add(make_proposal())

    process = _start_implement(settings, proposal.id, tmp_path)
    _wait_for_phase(service, "committed", process)
    deadline = time.monotonic() + 30
    while not pushing.exists() and time.monotonic() < deadline:  # the push is under way
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)  # only mendbot: its git push carries on
    process.wait(10)
    runtime = build_runtime(settings)

    final = runtime.store.get(proposal.id)
    assert final.status is ProposalStatus.APPLIED, final.error
    assert final.commit_sha == service.remote_head()
    assert f"Fix-Id: {proposal.id}" in service.remote_message()
    setup.close()
    runtime.close()


# --- a revert killed half way (mendbot fixes revert) -----------------------------------------


def _start_revert(settings, proposal_id: str, cwd: Path, **env: str):
    return start_mendbot(
        ["fixes", "revert", proposal_id, "--as", "ops", "--reason", "regressed"],
        mendbot_env(settings, **env),
        cwd,
    )


def test_kill_during_a_revert_restores_the_fixed_files_and_keeps_the_status(
    make_settings,
    database_url: str,
    service: RepoPair,
    tmp_path: Path,
    marker: str,
) -> None:
    settings = make_settings(database_url=database_url, target_repo_path=service.work)
    setup = build_runtime(settings)
    fix = setup.decisions.implement(setup.store.add(make_proposal()).id, actor="U0ALICE")
    fixed, head = tree_hashes(service.work), service.remote_head()

    process = _start_revert(settings, fix.id, tmp_path, VALIDATE_COMMAND=f"sleep 30; echo {marker}")
    _wait_for_phase(service, "written", process)
    assert json.loads((service.work / ".git/mendbot/journal.json").read_text())["kind"] == "revert"
    assert tree_hashes(service.work) != fixed  # the revert is in the working tree
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    runtime = build_runtime(settings)

    assert runtime.recovered == []  # the fix itself did not change status
    assert runtime.store.get(fix.id).status is ProposalStatus.APPLIED
    assert tree_hashes(service.work) == fixed
    assert service.head() == head == service.remote_head()
    assert git(service.work, "status", "--porcelain") == ""
    last = runtime.store.audit_trail(fix.id)[-1]
    assert last.action == "revert_failed" and last.details["outcome"] == "interrupted"
    again = runtime.decisions.revert(fix.id, actor="ops")  # and it can be tried again
    assert again.reverted
    setup.close()
    runtime.close()


def test_kill_after_the_remote_took_the_revert_records_it_reverted(
    make_settings,
    database_url: str,
    service: RepoPair,
    tmp_path: Path,
    marker: str,
) -> None:
    settings = make_settings(database_url=database_url, target_repo_path=service.work)
    setup = build_runtime(settings)
    fix = setup.decisions.implement(setup.store.add(make_proposal()).id, actor="U0ALICE")
    _hook(service.bare / "hooks" / "post-receive", f"sleep 30 # {marker}")
    base = service.remote_head()

    process = _start_revert(settings, fix.id, tmp_path)
    _wait_for_phase(service, "committed", process)
    deadline = time.monotonic() + 30
    while service.remote_head() == base and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)
    runtime = build_runtime(settings)

    assert [p.id for p in runtime.recovered] == [fix.id]
    assert runtime.store.get(fix.id).status is ProposalStatus.REVERTED
    assert f"Reverts-Fix-Id: {fix.id}" in service.remote_message()
    assert service.head() == service.remote_head()
    assert git(service.work, "status", "--porcelain") == ""
    setup.close()
    runtime.close()
