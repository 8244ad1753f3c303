"""The executors against servers that speak the real protocols: Railway's GraphQL (every
query and mutation validated against the published schema), the Docker Engine API over a
unix socket through the docker SDK, and real shell commands."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from core.actions import Action
from fixes.actions.docker import DockerExecutor, own_container_ids
from fixes.actions.errors import ActionFailed, ActionRefused, ActionUnavailable
from fixes.actions.executors import CommandExecutor
from fixes.actions.railway import RailwayExecutor
from tests.fakes.docker_engine import FakeContainer, FakeDockerEngine
from tests.fakes.railway import FakeRailway
from tests.fakes.server import Reply

WEB_ID = "a" * 64
SELF_ID = "b" * 64


@pytest.fixture
def railway():
    with FakeRailway() as fake:
        now = datetime.now(UTC)
        fake.deploy("dep-1", created_at=now - timedelta(hours=2))
        fake.deploy("dep-2", created_at=now - timedelta(hours=1))
        fake.other_deployments["dep-mendbot"] = "svc-mendbot"
        yield fake
        assert fake.invalid == [], "a request Railway's schema rejects"


def executor(fake: FakeRailway, **kwargs) -> RailwayExecutor:
    return RailwayExecutor(
        client=httpx.Client(timeout=5),
        api_url=fake.api_url,
        environment_id="env-1",
        api_token=kwargs.pop("token", "team-token"),
        **kwargs,
    )


def test_restart_restarts_the_latest_deployment(railway: FakeRailway) -> None:
    done = executor(railway).run(Action(kind="restart", target="svc-1"))
    assert railway.actions == [("deploymentRestart", {"id": "dep-2"})]
    assert "dep-2" in done


def test_redeploy_and_rollback_use_railways_mutations(railway: FakeRailway) -> None:
    run = executor(railway).run
    run(Action(kind="redeploy", target="svc-1"))
    run(Action(kind="rollback", target="svc-1"))
    assert railway.actions == [
        ("serviceInstanceRedeploy", {"environmentId": "env-1", "serviceId": "svc-1"}),
        ("deploymentRollback", {"id": "dep-1"}),  # the newest earlier one, not the latest
    ]


def test_rollback_without_an_earlier_deployment_fails_clearly() -> None:
    with FakeRailway() as fake:
        fake.deploy("only")
        with pytest.raises(ActionFailed, match="no earlier deployment"):
            executor(fake).run(Action(kind="rollback", target="svc-1"))
        assert fake.actions == []


def test_railway_down_is_retryable_and_a_refusal_is_not(railway: FakeRailway) -> None:
    railway.fail_next(Reply.json({"error": "upstream"}, 503, **{"Retry-After": "7"}))
    with pytest.raises(ActionUnavailable) as down:
        executor(railway).run(Action(kind="restart", target="svc-1"))
    assert down.value.retry_after_seconds == 7.0
    railway.refuse_actions = "Problem processing request"
    with pytest.raises(ActionFailed, match="Problem processing request"):
        executor(railway).run(Action(kind="restart", target="svc-1"))
    with pytest.raises(ActionFailed, match="RAILWAY_API_TOKEN"):
        executor(railway, token="stolen").run(Action(kind="restart", target="svc-1"))
    assert railway.actions == []


def test_an_unknown_service_is_refused_by_railway_not_guessed(railway: FakeRailway) -> None:
    with pytest.raises(ActionFailed):
        executor(railway).run(Action(kind="redeploy", target="svc-elsewhere"))
    assert railway.actions == []


@pytest.mark.parametrize(
    "knows_itself",
    [
        {"self_service_ids": frozenset({"svc-1"})},  # MENDBOT_SELF_SERVICE_ID
        {"self_deployment_id": "dep-2"},  # RAILWAY_DEPLOYMENT_ID: mendbot runs in svc-1
        {"self_service_name": "api"},  # RAILWAY_SERVICE_NAME equals the target's name
    ],
)
def test_mendbot_never_acts_on_its_own_railway_service(
    railway: FakeRailway, knows_itself: dict
) -> None:
    run = executor(railway, **knows_itself)
    for kind in ("restart", "redeploy", "rollback"):
        with pytest.raises(ActionRefused, match="never acts on itself"):
            run.run(Action(kind=kind, target="svc-1"))  # type: ignore[arg-type]
    assert railway.actions == []


def test_another_services_deployment_id_does_not_block_the_watched_one(
    railway: FakeRailway,
) -> None:
    run = executor(railway, self_deployment_id="dep-mendbot", self_service_name="mendbot")
    assert run.refusal(Action(kind="restart", target="svc-1")) is None
    run.run(Action(kind="restart", target="svc-1"))
    assert [name for name, _ in railway.actions] == ["deploymentRestart"]
    assert railway.queries("deployment") == [{"id": "dep-mendbot"}]  # asked once


# --- Docker ---------------------------------------------------------------------------------


@pytest.fixture
def engine():
    with FakeDockerEngine(
        [
            FakeContainer(WEB_ID, "web", hostname="web-host"),
            FakeContainer(SELF_ID, "mendbot", hostname=SELF_ID[:12]),
        ]
    ) as fake:
        yield fake


def test_container_restart_goes_through_the_docker_engine_api(engine: FakeDockerEngine) -> None:
    done = DockerExecutor(base_url=engine.base_url).run(
        Action(kind="container_restart", target="web")
    )
    assert engine.find("web").restarts == 1 and "web" in done
    paths = [path for _, path in engine.requests]
    assert any(p.endswith("/containers/web/restart?t=10") for p in paths)


@pytest.mark.parametrize("target", ["mendbot", SELF_ID, SELF_ID[:12], SELF_ID[:20]])
def test_mendbot_never_restarts_its_own_container(engine: FakeDockerEngine, target: str) -> None:
    own = own_container_ids(SELF_ID[:12], files=())
    with pytest.raises(ActionRefused, match="never acts on itself"):
        DockerExecutor(base_url=engine.base_url, self_ids=own).run(
            Action(kind="container_restart", target=target)
        )
    assert engine.find("mendbot").restarts == 0


def test_own_container_id_is_read_from_the_cgroup_file(tmp_path) -> None:
    cgroup = tmp_path / "cgroup"
    cgroup.write_text(f"0::/system.slice/docker-{SELF_ID}.scope\n")
    assert own_container_ids("host", files=(cgroup, tmp_path / "missing")) == {"host", SELF_ID}


def test_docker_errors_are_translated(engine: FakeDockerEngine) -> None:
    docker = DockerExecutor(base_url=engine.base_url)
    with pytest.raises(ActionFailed, match="no such container"):
        docker.run(Action(kind="container_restart", target="ghost"))
    engine.find("web").fail_restart = True
    with pytest.raises(ActionUnavailable, match="HTTP 500"):
        docker.run(Action(kind="container_restart", target="web"))
    engine.stop()
    with pytest.raises(ActionUnavailable, match="could not be reached"):
        docker.run(Action(kind="container_restart", target="web"))


# --- commands -------------------------------------------------------------------------------


def test_commands_run_by_name_only(tmp_path) -> None:
    marker = tmp_path / "cleaned"
    commands = CommandExecutor(
        commands={
            "cleanup": f"touch {marker} && echo freed 3 GB",
            "broken": "echo nope >&2; exit 3",
        },
        environment={"PATH": "/usr/bin:/bin"},
    )
    assert "freed 3 GB" in commands.run(Action(kind="command", target="cleanup"))
    assert marker.exists()
    with pytest.raises(ActionFailed, match="exited 3: nope"):
        commands.run(Action(kind="command", target="broken"))
    with pytest.raises(ActionRefused, match="no command named"):
        commands.run(Action(kind="command", target="rm -rf /"))


def test_a_token_that_cannot_see_mendbots_own_deployment_does_not_block_actions(
    railway: FakeRailway,
) -> None:
    # mendbot runs in another project; a project token of the watched one cannot read
    # mendbot's deployment, and so cannot touch mendbot's service either.
    run = executor(railway, self_deployment_id="dep-in-another-project")
    run.run(Action(kind="restart", target="svc-1"))
    run.run(Action(kind="restart", target="svc-1"))
    assert [name for name, _ in railway.actions] == ["deploymentRestart"] * 2
    assert railway.queries("deployment") == [{"id": "dep-in-another-project"}]  # asked once


def test_railway_down_while_asking_who_mendbot_is_is_retryable(railway: FakeRailway) -> None:
    railway.fail_next(Reply.json({"error": "upstream"}, 502))
    run = executor(railway, self_deployment_id="dep-2")
    with pytest.raises(ActionUnavailable):
        run.run(Action(kind="restart", target="svc-1"))
    with pytest.raises(ActionRefused, match="never acts on itself"):  # asked again, then known
        run.run(Action(kind="restart", target="svc-1"))
    assert railway.actions == []
