"""Two approvals of one fix at once (threads, processes): exactly one commit reaches the remote."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from core.proposals import Edit, FixProposal, ProposalStatus
from fixes.decisions import DecisionRefused
from monitoring.runtime import Runtime, build_runtime
from tests.conftest import ROOT
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import SERVICE, UTIL, frame_evidence, make_proposal


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def settings(make_settings, database_url: str, service: RepoPair):
    return make_settings(database_url=database_url, target_repo_path=service.work)


def _race(runtimes: list[Runtime], proposal_ids: list[str]) -> list[FixProposal | str]:
    """Run ``implement`` for each (runtime, id) pair on its own thread, all at once."""
    barrier = threading.Barrier(len(runtimes))
    results: list[FixProposal | str] = [""] * len(runtimes)

    def worker(index: int) -> None:
        barrier.wait()
        try:
            results[index] = runtimes[index].decisions.implement(
                proposal_ids[index], actor=f"U{index}"
            )
        except DecisionRefused as refused:
            results[index] = refused.code

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(runtimes))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.parametrize("shared", [True, False], ids=["one-runtime", "two-runtimes"])
def test_two_threads_implementing_the_same_fix_make_one_commit(
    settings,
    service: RepoPair,
    shared: bool,
) -> None:
    first = build_runtime(settings)
    second = first if shared else build_runtime(settings)
    proposal = first.store.add(make_proposal())

    results = _race([first, second], [proposal.id, proposal.id])

    applied = [r for r in results if isinstance(r, FixProposal)]
    assert len(applied) == 1 and applied[0].status is ProposalStatus.APPLIED
    assert [r for r in results if isinstance(r, str)] == ["not_open"]
    assert git(service.bare, "rev-list", "--count", "main") == "2"
    approvals = [e for e in first.store.audit_trail(proposal.id) if e.action == "approved"]
    assert len(approvals) == 1
    first.close()
    second.close()


def test_two_different_fixes_at_once_are_applied_one_after_the_other(
    settings,
    service: RepoPair,
) -> None:
    runtimes = [build_runtime(settings), build_runtime(settings)]
    one = runtimes[0].store.add(make_proposal())
    other = runtimes[0].store.add(
        make_proposal(
            [Edit(path="lib/util.py", old_text='split(",")', new_text='split(";")')],
            fingerprint="other",
            evidence=[frame_evidence(UTIL, "lib/util.py", 5, "parse")],
        )
    )

    results = _race(runtimes, [one.id, other.id])

    assert [r.status for r in results if isinstance(r, FixProposal)] == [
        ProposalStatus.APPLIED,
        ProposalStatus.APPLIED,
    ]
    assert git(service.bare, "rev-list", "--count", "main") == "3"
    assert git(service.work, "status", "--porcelain") == ""
    for runtime in runtimes:
        runtime.close()


def mendbot_env(settings, **extra: str) -> dict[str, str]:
    """The environment for a ``mendbot`` subprocess with these settings."""
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "TARGET_REPO_PATH": str(settings.target_repo_path),
        "PYTHONPATH": str(ROOT),
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        **extra,
    }
    return env


def start_mendbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    """Start ``mendbot <args>`` (this interpreter, this checkout) in its own session."""
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", *args],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.mark.slow
def test_two_processes_implementing_the_same_fix_make_one_commit(
    settings,
    service: RepoPair,
    tmp_path: Path,
) -> None:
    runtime = build_runtime(settings)
    proposal = runtime.store.add(make_proposal())
    env = mendbot_env(settings)

    processes = [
        start_mendbot(["fixes", "implement", proposal.id, "--as", f"ops{i}"], env, tmp_path)
        for i in range(2)
    ]
    outputs = [process.communicate(timeout=60) for process in processes]

    codes = sorted(process.returncode for process in processes)
    assert codes == [0, 3], outputs
    assert any("is already" in err for _out, err in outputs)
    assert git(service.bare, "rev-list", "--count", "main") == "2"
    assert runtime.store.get(proposal.id).status is ProposalStatus.APPLIED
    runtime.close()
