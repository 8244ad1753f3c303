"""After the push on Railway: the deployment of the pushed commit, followed through the
fake Railway's ``deployments`` (schema-validated), with the loop of ``test_verification``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from core.proposals import ProposalStatus
from monitoring.sources.railway_api import RailwayAPI
from monitoring.sources.railway_deploys import RailwayDeploys
from tests.fakes.railway import FakeRailway
from tests.monitoring.test_verification import HEALTH, KEY_ERROR, T0, loop_for, stamped

__all__ = ["loop_for"]  # the fixture, shared


@pytest.fixture
def railway():
    with FakeRailway() as fake:
        fake.deploy("dep-old", created_at=T0 - timedelta(days=1), commit="0" * 40)
        yield fake
        assert fake.invalid == [], "mendbot sent a query Railway's schema rejects"


def _railway_deploys(railway: FakeRailway) -> RailwayDeploys:
    api = RailwayAPI(client=httpx.Client(), api_url=railway.api_url, api_token="team-token")
    return RailwayDeploys(api=api, environment_id="env-1", service_id="svc-1")


def test_railway_deploy_followed_by_commit_and_old_lines_ignored(loop_for, railway) -> None:
    loop = loop_for(deploys=_railway_deploys(railway))
    fix = loop.incident_and_fix()
    sha = fix.commit_sha or ""
    railway.deploy("dep-fix", status="BUILDING", commit=sha, created_at=loop.clock.now)
    loop.cycle([])
    assert "deploy_live" not in loop.kinds(fix.id)
    assert loop.verifications.get(fix.id).deploy_status == "BUILDING"  # type: ignore[union-attr]

    live_at = loop.clock.now + timedelta(seconds=90)
    railway.set_status("dep-fix", "SUCCESS", at=live_at)
    old = stamped(KEY_ERROR, live_at + timedelta(seconds=5))  # the old deployment draining
    for record in old:
        record.attributes["railway.deployment"] = "dep-old"
    loop.cycle(old)
    live = loop.events(fix.id)[-1]
    assert live.kind == "deploy_live" and live.details["deploy_id"] == "dep-fix"
    assert live.details["live_at"] == live_at
    loop.cycle(stamped([HEALTH], live_at + timedelta(seconds=900)))

    assert loop.status(fix.id) is ProposalStatus.VERIFIED
    assert railway.queries("deployments")[0]["input"] == {
        "serviceId": "svc-1",
        "environmentId": "env-1",
    }


def test_a_failed_deploy_is_said_at_once_and_reverted_by_policy_once(loop_for, railway) -> None:
    loop = loop_for(deploys=_railway_deploys(railway), auto_revert="deploy_failed")
    fix = loop.incident_and_fix()
    remote = loop.repo.remote_head()
    railway.deploy("dep-fix", status="FAILED", commit=(fix.commit_sha or "")[:7])

    loop.cycle([])

    assert loop.status(fix.id) is ProposalStatus.REVERTED
    kinds = loop.kinds(fix.id)
    assert kinds[-4:] == ["deploy_failed", "reverting", "validation_passed", "reverted"]
    failed = loop.events(fix.id)[-4]
    assert (
        failed.details["deploy_status"] == "FAILED" and failed.details["cause"] == "deploy_failed"
    )
    reverted = loop.events(fix.id)[-1]
    assert reverted.actor == "mendbot" and reverted.details["automatic"] is True
    assert "MENDBOT_AUTO_REVERT=deploy_failed" in reverted.details["why"]
    assert f"Reverts-Fix-Id: {fix.id}" in loop.repo.remote_message()
    assert loop.repo.remote_head() != remote
    trail = loop.runtime.store.audit_trail(fix.id)
    regressed = next(e for e in trail if e.action == "regressed")
    assert regressed.details["deploy_id"] == "dep-fix"
    loop.cycle([])  # nothing more: once per fix
    assert loop.actions(fix.id).count("reverted") == 1


def test_a_regression_is_not_reverted_under_the_deploy_failed_policy(loop_for, railway) -> None:
    loop = loop_for(deploys=_railway_deploys(railway), auto_revert="deploy_failed")
    fix = loop.incident_and_fix()
    railway.deploy("dep-fix", status="SUCCESS", commit=fix.commit_sha, status_at=loop.clock.now)
    loop.cycle(stamped(KEY_ERROR, loop.clock.now + timedelta(seconds=5)))
    loop.cycle(stamped([HEALTH], loop.clock.now + timedelta(seconds=1000)))
    assert loop.status(fix.id) is ProposalStatus.REGRESSED


def test_an_automatic_revert_that_cannot_apply_is_said_and_never_retried(
    loop_for, railway, tmp_path: Path
) -> None:
    loop = loop_for(deploys=_railway_deploys(railway), auto_revert="regressed")
    fix = loop.incident_and_fix()
    fixed = (loop.repo.work / "app.py").read_text()
    loop.repo.push_from_elsewhere(
        tmp_path, {"app.py": fixed.replace("unknown user", "who?")}, "wording"
    )
    railway.deploy("dep-fix", status="CRASHED", commit=fix.commit_sha)

    loop.cycle([])
    loop.cycle([])

    assert loop.status(fix.id) is ProposalStatus.REGRESSED
    failed = loop.events(fix.id)[-1]
    assert failed.kind == "revert_failed" and failed.details["automatic"] is True
    assert "later commits changed the lines" in failed.details["reason"]
    assert loop.actions(fix.id).count("revert_failed") == 1


def test_a_deploy_that_crashes_while_watched_is_a_failed_deploy(loop_for, railway) -> None:
    loop = loop_for(deploys=_railway_deploys(railway))
    fix = loop.incident_and_fix()
    railway.deploy("dep-fix", commit=fix.commit_sha, status_at=loop.clock.now)
    loop.cycle(stamped([HEALTH], loop.clock.now + timedelta(seconds=10)))
    assert loop.kinds(fix.id)[-1] == "deploy_live"
    railway.set_status("dep-fix", "CRASHED")
    loop.cycle([])
    assert loop.status(fix.id) is ProposalStatus.REGRESSED
    assert loop.events(fix.id)[-1].details["deploy_status"] == "CRASHED"


def test_no_deployment_of_the_commit_within_the_timeout(loop_for, railway) -> None:
    loop = loop_for(deploys=_railway_deploys(railway))
    fix = loop.incident_and_fix()
    pushed = loop.clock.now
    loop.clock.now = pushed + timedelta(seconds=3599)
    loop.cycle([])
    assert loop.verifications.get(fix.id).phase == "deploying"  # type: ignore[union-attr]
    loop.clock.now = pushed + timedelta(seconds=3600)
    loop.cycle([])
    assert loop.kinds(fix.id)[-1] == "deploy_lost"
    assert loop.status(fix.id) is ProposalStatus.APPLIED
    assert loop.verifications.active() == []


def test_railway_down_is_a_note_and_the_deploy_is_asked_again(loop_for, railway) -> None:
    from tests.fakes.server import Reply

    loop = loop_for(deploys=_railway_deploys(railway))
    fix = loop.incident_and_fix()
    railway.deploy("dep-fix", commit=fix.commit_sha, status_at=loop.clock.now)
    railway.fail_next(Reply.json({"errors": [{"message": "Not Authorized"}]}), times=1)
    result = loop.cycle([])
    assert any("deploy check of" in note and "refused" in note for note in result.notes)
    loop.cycle([])
    assert loop.kinds(fix.id)[-1] == "deploy_live"
