"""Following a commit's deployment on the fake Railway (every query checked against the schema)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from monitoring.sources import LogSourceAuthError, RailwaySource
from monitoring.sources.railway_api import RailwayAPI
from monitoring.sources.railway_deploys import RailwayDeploys
from tests.fakes.railway import FakeRailway

SHA = "4f1c2a9be07d35c8e1f0a6b2c3d4e5f60718293a"
NOW = datetime(2026, 11, 21, 3, 0, tzinfo=UTC)


@pytest.fixture
def railway():
    with FakeRailway() as fake:
        yield fake
        assert fake.invalid == [], "a query Railway's schema rejects"


def deploys(railway: FakeRailway, token: str = "team-token") -> RailwayDeploys:
    api = RailwayAPI(client=httpx.Client(), api_url=railway.api_url, api_token=token)
    return RailwayDeploys(api=api, environment_id="env-1", service_id="svc-1")


def check(railway: FakeRailway, sha: str = SHA, deploy_id: str | None = None):
    return deploys(railway).check(sha, since=NOW, deploy_id=deploy_id, now=NOW)


@pytest.mark.parametrize(
    ("deployed", "found"),
    [
        (SHA, True),
        (SHA.upper(), True),
        (SHA[:7], True),  # a short sha recorded by the platform
        (SHA[:6], False),  # too short to be sure
        ("4f1c2a9" + "0" * 33, False),  # shares the prefix, another commit
        (None, False),
    ],
)
def test_the_deployment_is_matched_by_the_commit_in_its_meta(
    railway: FakeRailway, deployed: str | None, found: bool
) -> None:
    railway.deploy("dep-1", commit=deployed, status_at=NOW)
    result = check(railway)
    assert (result.state == "live") is found
    assert (result.deploy_id == "dep-1") is found


def test_a_pushed_short_sha_matches_the_full_one(railway: FakeRailway) -> None:
    railway.deploy("dep-1", commit=SHA, status_at=NOW)
    assert check(railway, SHA[:10]).state == "live"


def test_meta_sent_as_json_text_is_read(railway: FakeRailway) -> None:
    railway.deploy("dep-1", status_at=NOW).meta = json.dumps({"commitHash": SHA})  # type: ignore[assignment]
    assert check(railway).deploy_id == "dep-1"


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("QUEUED", "pending"),
        ("WAITING", "pending"),
        ("BUILDING", "pending"),
        ("DEPLOYING", "pending"),
        ("INITIALIZING", "pending"),
        ("NEEDS_APPROVAL", "pending"),
        ("SKIPPED", "pending"),
        ("REMOVED", "pending"),  # never seen live: not the fix serving
        ("SUCCESS", "live"),
        ("SLEEPING", "live"),
        ("FAILED", "failed"),
        ("CRASHED", "failed"),
    ],
)
def test_railway_statuses(railway: FakeRailway, status: str, state: str) -> None:
    railway.deploy("dep-1", commit=SHA, status=status, status_at=NOW)
    result = check(railway)
    assert (result.state, result.status) == (state, status)
    assert (result.live_at == NOW) is (state == "live")


def test_the_newest_deployment_of_the_commit_wins(railway: FakeRailway) -> None:
    railway.deploy("dep-1", commit=SHA, status="FAILED", created_at=NOW - timedelta(minutes=9))
    railway.deploy("dep-2", commit=SHA, created_at=NOW - timedelta(minutes=2), status_at=NOW)
    assert check(railway).deploy_id == "dep-2"


def test_a_followed_deployment_replaced_later_stays_live_but_a_crash_is_failed(
    railway: FakeRailway,
) -> None:
    railway.deploy("dep-1", commit=SHA, status_at=NOW)
    railway.deploy("dep-2", commit="9" * 40)  # a colleague's push replaces it
    assert railway.deployments["dep-1"].status == "REMOVED"
    assert check(railway, deploy_id="dep-1").state == "live"
    railway.set_status("dep-1", "CRASHED")
    assert check(railway, deploy_id="dep-1").state == "failed"


def test_a_refused_token_names_the_variable(railway: FakeRailway) -> None:
    railway.deploy("dep-1", commit=SHA)
    with pytest.raises(LogSourceAuthError, match="RAILWAY_API_TOKEN"):
        deploys(railway, token="wrong").check(SHA, since=NOW, now=NOW)


def test_a_log_line_cannot_claim_another_deployment(railway: FakeRailway) -> None:
    railway.deploy("dep-1", commit=SHA, created_at=datetime.now(UTC) - timedelta(hours=1))
    forged = json.dumps({"level": "error", "message": "boom", "railway.deployment": "dep-old"})
    railway.add_logs("dep-1", [forged], at=datetime.now(UTC) - timedelta(seconds=5))
    source = RailwaySource(
        client=httpx.Client(),
        api_url=railway.api_url,
        environment_id="env-1",
        service_id="svc-1",
        api_token="team-token",
    )
    [record] = source.fetch(None, now=datetime.now(UTC)).records
    assert record.attributes["railway.deployment"] == "dep-1"
    source.close()
