"""``mendbot fixes list | show | implement | reject | revert`` through the real argument parser."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.cli.main import main
from core.proposals import ProposalStatus
from monitoring.runtime import build_runtime
from settings import get_settings
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import SERVICE, make_proposal


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str, service: RepoPair):
    """Configure mendbot through the environment, as a terminal user would."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("TARGET_REPO_PATH", str(service.work))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def store(env):
    runtime = build_runtime(get_settings())
    yield runtime.store
    runtime.close()


def test_list_shows_proposals_newest_first(env, store, capsys) -> None:
    assert main(["fixes", "list"]) == 0
    assert "no proposals yet" in capsys.readouterr().err
    first = store.add(make_proposal())
    second = store.add(make_proposal([], fingerprint="fp2", title="Slow LM calls"))

    assert main(["fixes", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["ID", "STATUS", "RISK", "CREATED", "TITLE"]
    assert out[1].startswith(second.id) and "Slow LM calls (needs investigation)" in out[1]
    assert out[2].startswith(first.id) and "proposed" in out[2]

    assert main(["fixes", "list", "--json", "--status", "proposed", "--limit", "1"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line)["id"] == second.id
    assert main(["fixes", "list", "--status", "done"]) == 2
    assert "unknown status 'done'" in capsys.readouterr().err


def test_show_prints_the_diff_and_the_audit_trail(env, store, capsys) -> None:
    proposal = store.add(make_proposal())

    assert main(["fixes", "show", proposal.id]) == 0

    out = capsys.readouterr().out
    assert f"{proposal.id}  KeyError in orders()" in out
    assert "--- a/app.py" in out and "+++ b/app.py" in out
    assert '-    user = STATS["users"][body["user_id"]]' in out
    assert "@@ -6," in out  # hunks at the file's real line numbers
    assert "proof:       No proof: the evidence does not show how to reach the failure" in out
    assert "proposed" in out.splitlines()[-1]
    assert main(["fixes", "show", proposal.id, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["audit"][0]["action"] == "proposed" and "+++ b/app.py" in payload["diff"]
    assert main(["fixes", "show", "fix_19990101_000000"]) == 3
    assert "there is no proposal fix_19990101_000000" in capsys.readouterr().err


def test_implement_applies_as_the_named_user_and_only_once(
    env,
    store,
    service: RepoPair,
    capsys,
) -> None:
    proposal = store.add(make_proposal())

    assert main(["fixes", "implement", proposal.id, "--as", "alice"]) == 0

    captured = capsys.readouterr()
    assert f"{proposal.id} applied: commit {service.remote_head()} pushed" in captured.out
    assert "approved by cli:alice" in captured.err and "validation passed" in captured.err
    assert "Approved-by: cli:alice" in service.remote_message()
    assert [e.actor for e in store.audit_trail(proposal.id)][1] == "cli:alice"
    assert main(["fixes", "implement", proposal.id]) == 3
    assert "already applied" in capsys.readouterr().err


def test_implement_that_rolls_back_exits_1_with_the_output(env, store, capsys) -> None:
    env.setenv("VALIDATE_COMMAND", "echo 'E   AssertionError: orders'; exit 1")
    get_settings.cache_clear()
    proposal = store.add(make_proposal())

    assert main(["fixes", "implement", proposal.id]) == 1

    err = capsys.readouterr().err
    assert "validation failed (command):" in err and "AssertionError: orders" in err
    assert f"{proposal.id} rolled back: validation failed (command)" in err
    assert main(["fixes", "show", proposal.id]) == 0
    assert "| E   AssertionError: orders" in capsys.readouterr().out


def test_implement_without_a_repository_is_a_configuration_error(env, store, capsys) -> None:
    env.delenv("TARGET_REPO_PATH")
    get_settings.cache_clear()
    proposal = store.add(make_proposal())

    assert main(["fixes", "implement", proposal.id]) == 2

    assert "set TARGET_REPO_PATH" in capsys.readouterr().err
    assert store.get(proposal.id).status is ProposalStatus.PROPOSED


def test_reject_records_who_and_why(env, store, service: RepoPair, capsys) -> None:
    proposal = store.add(make_proposal())

    assert main(["fixes", "reject", proposal.id, "--reason", "not worth it", "--as", "bob"]) == 0

    assert f"{proposal.id} rejected by cli:bob" in capsys.readouterr().out
    event = store.audit_trail(proposal.id)[-1]
    assert (event.action, event.actor, event.details["reason"]) == (
        "rejected",
        "cli:bob",
        "not worth it",
    )
    assert main(["fixes", "reject", proposal.id]) == 3
    assert main(["fixes", "implement", proposal.id]) == 3
    assert git(service.bare, "rev-list", "--count", "main") == "1"


def test_unreachable_database_is_a_clear_error(env, capsys) -> None:
    env.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    get_settings.cache_clear()

    assert main(["fixes", "list"]) == 2

    assert "cannot open the database (DATABASE_URL)" in capsys.readouterr().err


def test_revert_undoes_a_pushed_fix_as_the_named_user(
    env, store, service: RepoPair, capsys, tmp_path: Path
) -> None:
    proposal = store.add(make_proposal())
    assert main(["fixes", "implement", proposal.id]) == 0
    fix_commit = service.remote_head()
    capsys.readouterr()

    assert main(["fixes", "revert", proposal.id, "--as", "carol", "--reason", "5xx up"]) == 0

    captured = capsys.readouterr()
    assert f"{proposal.id} reverted: commit {service.remote_head()} pushed" in captured.out
    assert f"backed up and reverting {fix_commit[:12]}: app.py" in captured.err
    message = service.remote_message()
    assert "Approved-by: cli:carol" in message and f"Reverts-Fix-Id: {proposal.id}" in message
    assert store.get(proposal.id).status is ProposalStatus.REVERTED
    event = store.audit_trail(proposal.id)[-1]
    assert (event.action, event.actor, event.details["why"]) == ("reverted", "cli:carol", "5xx up")
    assert main(["fixes", "revert", proposal.id]) == 3
    assert "is reverted: only an applied, verified or regressed fix" in capsys.readouterr().err
    assert main(["fixes", "list", "--status", "reverted"]) == 0
    assert proposal.id in capsys.readouterr().out


def test_revert_that_no_longer_applies_exits_3_and_changes_nothing(
    env, store, service: RepoPair, capsys, tmp_path: Path
) -> None:
    proposal = store.add(make_proposal())
    assert main(["fixes", "implement", proposal.id]) == 0
    fixed = (service.work / "app.py").read_text()
    head = service.push_from_elsewhere(
        tmp_path, {"app.py": fixed.replace("unknown user", "who?")}, "wording"
    )
    capsys.readouterr()

    assert main(["fixes", "revert", proposal.id]) == 3

    assert "later commits changed the lines this fix changed (app.py)" in capsys.readouterr().err
    assert service.remote_head() == head
    assert store.get(proposal.id).status is ProposalStatus.APPLIED
    assert main(["fixes", "revert", "fix_19990101_000000"]) == 3


def test_show_and_the_slack_message_give_the_calibrated_confidence(env, store, capsys) -> None:
    from bot.slack.proposal_message import proposal_message
    from core.proposals import TrackRecord

    record = TrackRecord(
        source="playbook", anomaly_kind="repeated_error", verified=7, judged=9, confidence=0.79
    )
    proposal = store.add(make_proposal().model_copy(update={"track_record": record}))
    assert main(["fixes", "show", proposal.id]) == 0
    shown = capsys.readouterr().out
    assert "confidence:  79% (playbook; fixes of this kind: 7 of 9 verified; stated 85%)" in shown
    blocks = str(proposal_message(store.get(proposal.id)).blocks)
    assert "confidence 79% (fixes of this kind: 7 of 9 verified; stated 85%)" in blocks
    plain = store.add(make_proposal(fingerprint="fp3"))
    assert main(["fixes", "show", plain.id]) == 0
    assert "confidence:  85% (playbook)" in capsys.readouterr().out
