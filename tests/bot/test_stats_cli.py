"""The terminal side of operational actions: ``mendbot fixes show | implement`` on an
action proposal (no repository needed), and ``mendbot stats``, through the real parser,
against Railway's GraphQL (schema-validated)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli.main import main
from core.actions import Action
from monitoring.runtime import build_runtime
from settings import get_settings
from tests.fakes.proposals import make_proposal
from tests.fakes.railway import FakeRailway


@pytest.fixture
def railway():
    with FakeRailway() as fake:
        fake.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(hours=1))
        yield fake
        assert fake.invalid == []


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, railway):
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": database_url,
        "RAILWAY_API_URL": railway.api_url,
        "RAILWAY_API_TOKEN": "team-token",
        "RAILWAY_ENVIRONMENT_ID": "env-1",
        "RAILWAY_SERVICE_ID": "svc-1",
        "MENDBOT_LOG_SOURCE": "none",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_an_action_proposal_is_shown_implemented_and_counted(env, railway, capsys) -> None:
    runtime = build_runtime(get_settings())
    restart = Action(kind="restart", target="svc-1", trust="ask", rule="alert-down-restart")
    proposal = runtime.store.add(make_proposal([]).model_copy(update={"action": restart}))
    runs = runtime.decisions.actions.runs  # type: ignore[union-attr]
    runtime.close()

    assert main(["fixes", "show", proposal.id]) == 0
    shown = capsys.readouterr().out
    assert "action: restart the Railway service svc-1 (trust level ask" in shown

    assert main(["fixes", "implement", proposal.id, "--as", "alice"]) == 0
    assert f"{proposal.id} done: restart the Railway service svc-1" in capsys.readouterr().out
    assert railway.actions == [("deploymentRestart", {"id": "dep-1"})]

    assert main(["stats"]) == 0
    assert "no operational action has finished yet" in capsys.readouterr().out
    runs.update(proposal.id, phase="done", result="cleared", seconds_to_clear=12.5)
    assert main(["stats", "--json"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert (row["action_kind"], row["anomaly_kind"], row["cleared"]) == (
        "restart",
        "repeated_error",
        1,
    )
    assert row["success_rate"] == 1.0 and row["median_seconds_to_clear"] == 12.5
    assert main(["stats"]) == 0
    assert "100%" in capsys.readouterr().out


def test_stats_show_fix_outcomes_and_open_breakers(env, capsys) -> None:
    from core.proposals import ProposalStatus as S

    runtime = build_runtime(get_settings())
    store = runtime.store
    paths = {
        S.VERIFIED: [S.APPROVED, S.APPLYING, S.APPLIED, S.VERIFIED],
        S.REGRESSED: [S.APPROVED, S.APPLYING, S.APPLIED, S.REGRESSED],
        S.ROLLED_BACK: [S.APPROVED, S.APPLYING, S.ROLLED_BACK],
        S.REJECTED: [S.REJECTED],
    }
    for outcome in (S.VERIFIED, S.REGRESSED, S.ROLLED_BACK, S.REGRESSED, S.REJECTED):
        stored = store.add(make_proposal())
        for step in paths[outcome]:
            details = {"reason": "not \x1b[31mnow"} if step is S.REJECTED else None
            store.transition(stored.id, step, actor="cli:alice", details=details)
    runtime.close()

    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert "no operational action has finished yet" in out
    assert "playbook" in out and "repeated_error" in out and "25%" in out
    assert "fix proposals stopped" in out and "resume fix proposals for 3f2a9c0d1e4b5a69" in out
    assert "\x1b" not in out and "not \\x1b[31mnow x1" in out

    assert main(["stats", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    fix = next(r for r in rows if r["type"] == "fix")
    assert (fix["source"], fix["anomaly_kind"], fix["verified"], fix["judged"]) == (
        "playbook",
        "repeated_error",
        1,
        4,
    )
    assert fix["success_rate"] == 0.25 and fix["rejected_reasons"] == {"not \x1b[31mnow": 1}
    [fingerprint] = [r for r in rows if r["type"] == "fingerprint"]
    assert fingerprint["breaker_open"] is True and fingerprint["failed_attempts"] == 3
