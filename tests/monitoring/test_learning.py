"""Outcomes teach the diagnosis: ``mendbot learn`` over verified fixes in a real git
repository, the compiled program saved in SQLite and PostgreSQL, and used by the diagnoser
against the scripted OpenAI-compatible server: the demos are in the requests it received
after ``learn``, and not before. Nothing of ours is mocked."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest

from bot.cli.main import main
from core.proposals import Edit, FixProposal, ProposalStatus
from fixes.persistence.db import Database
from fixes.persistence.programs import ProgramStore
from fixes.persistence.store import ProposalStore
from monitoring.diagnosis.compiled import STATE_FORMAT, fix_metric, load_program
from monitoring.learning import LearnError, NoExamples, ProgramLoader, learn, program_choice
from monitoring.runtime import build_diagnoser, lm_config
from settings import get_settings
from tests.conftest import ROOT
from tests.fakes import anomalies as A
from tests.fakes.git import git, make_repo
from tests.fakes.openai import FakeOpenAI, chat_fields, is_fix_request
from tests.fakes.proposals import frame_evidence, make_proposal

SERVICE = ROOT / "examples" / "service"
KEY_LINE = '    user = STATS["users"][body["user_id"]]   # bug: unknown users raise KeyError\n'
GUARD = (
    '    if body["user_id"] not in STATS["users"]:\n'
    '        raise HTTPException(status_code=404, detail="unknown user")\n'
)
AMOUNT_LINE = '    STATS["orders"].append(body["amount"])\n'
CODE_SECRET = "sk-livePLANTEDcode0123456789abcdef"
LOG_SECRET = "hunter2PLANTEDlog"
ROOT_CAUSE = "LEARNED-ROOT-CAUSE: orders() trusts user_id from the request body."
S = ProposalStatus

ANALYSIS = chat_fields(
    root_cause="orders() reads unknown users.",
    severity_assessment="HIGH",
    affected_components=["app.py:orders"],
    confidence=0.9,
)


def fix_reply(edits: list[dict[str, str]]) -> str:
    return chat_fields(
        edits=edits,
        reasoning="Guard the lookup.",
        risk_assessment={"level": "LOW", "notes": "404 for unknown users."},
        regression_test="",
    )


def verified_guard(body: dict[str, Any]) -> str:
    """The fix the person verified, with old_text copied from the request's current_code."""
    user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
    line = next(x for x in user.splitlines() if 'STATS["users"][body["user_id"]]' in x)
    return fix_reply([{"path": "app.py", "old_text": line, "new_text": GUARD + line}])


def answering(body: dict[str, Any]) -> str:
    return verified_guard(body) if is_fix_request(body) else ANALYSIS


@pytest.fixture
def repo(tmp_path: Path):
    """The example service with a secret planted in the code near the KeyError."""
    pair = make_repo(tmp_path, copy_from=SERVICE)
    app = pair.work / "app.py"
    planted = AMOUNT_LINE.rstrip("\n") + f"  # token={CODE_SECRET}\n"
    app.write_text(app.read_text().replace(AMOUNT_LINE, planted))
    git(pair.work, "commit", "-qam", "a token in a comment")
    return pair


@pytest.fixture
def llm():
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def lm_settings(make_settings, llm: FakeOpenAI, repo, database_url: str):
    def factory(**overrides: Any):
        values: dict[str, Any] = {
            "lm": "openai/fake-model",
            "openai_base_url": llm.base_url,
            "openai_api_key": "sk-test",
            "lm_timeout_seconds": 30.0,
            "lm_max_retries": 0,
            "target_repo_path": repo.work,
            "database_url": database_url,
        }
        return make_settings(**{**values, **overrides})

    return factory


def verified_fix(
    store: ProposalStore, repo, *, edits: list[Edit] | None = None, source: str | None = None
) -> FixProposal:
    """A KeyError fix as the loop leaves it: proposed (its evidence the frame app.py:31 in
    ``source``, default: the checkout now), applied (committed) and verified."""
    fix = Edit(path="app.py", old_text=KEY_LINE, new_text=GUARD + KEY_LINE)
    anomaly = A.keyerror(samples=[A.KEYERROR_TRACEBACK + f"\nAuthorization: Bearer {LOG_SECRET}"])
    app = repo.work / "app.py"
    evidence = frame_evidence(source or app.read_text(), "app.py", 31, "orders")
    proposal = make_proposal(edits or [fix], root_cause=ROOT_CAUSE, evidence=[evidence])
    stored = store.add(proposal.model_copy(update={"anomaly": anomaly, "fingerprint": "kf"}))
    if edits is None:
        app.write_text(app.read_text().replace(KEY_LINE, GUARD + KEY_LINE))
    else:
        app.write_text(app.read_text() + "\n# another change\n")
    git(repo.work, "commit", "-qam", f"mendbot fix {stored.id}")
    sha = git(repo.work, "rev-parse", "HEAD")
    for step in (S.APPROVED, S.APPLYING):
        store.transition(stored.id, step, actor="U0ALICE")
    store.transition(stored.id, S.APPLIED, actor="mendbot", commit_sha=sha)
    return store.transition(stored.id, S.VERIFIED, actor="mendbot")


def test_after_learn_the_demos_are_in_the_lm_request_and_not_before(lm_settings, llm, repo):
    settings = lm_settings()
    db = Database(settings.database_url)
    store, programs = ProposalStore(db), ProgramStore(db)
    verified_fix(store, repo)
    llm.respond_with(answering)
    loader = ProgramLoader(programs)
    diagnoser = build_diagnoser(settings, program=loader)

    diagnoser.propose([A.keyerror(fingerprint="other000000000")])  # before: uncompiled
    before = llm.all_text()
    assert "LEARNED-ROOT-CAUSE" not in before

    result = learn(store, programs, repo_path=repo.work, lm=None, optimizer="labeled")
    assert result.demos == {"analyze": 1, "generate_fix": 1}
    assert result.program.optimizer == "LabeledFewShot" and result.program.model is None
    saved = json.dumps(programs.latest().state)  # type: ignore[union-attr]
    assert CODE_SECRET not in saved and LOG_SECRET not in saved
    assert "<CODE_SECRET_1>" in saved

    seen = len(llm.requests)
    diagnoser.propose([A.keyerror(fingerprint="another0000000")])  # after: compiled
    analysis, fix = (r.json() for r in llm.requests[seen : seen + 2])
    assert "LEARNED-ROOT-CAUSE" in json.dumps(analysis)  # the demo's verified root cause
    fix_text = json.dumps(fix)
    assert "unknown user" in fix_text and "LEARNED-ROOT-CAUSE" in fix_text  # verified edit
    assert len(analysis["messages"]) > 2  # system, demo (user + assistant), the question
    wire = llm.all_text()
    assert CODE_SECRET not in wire and LOG_SECRET not in wire
    db.dispose()


def test_a_diagnosis_cached_before_learning_is_asked_again_after(lm_settings, llm, repo):
    settings = lm_settings()
    db = Database(settings.database_url)
    store, programs = ProposalStore(db), ProgramStore(db)
    verified_fix(store, repo)
    llm.respond_with(answering)
    diagnoser = build_diagnoser(settings, program=ProgramLoader(programs))
    same = A.keyerror(fingerprint="same0000000000")

    diagnoser.propose([same])
    asked = len(llm.requests)
    diagnoser.propose([same])
    assert len(llm.requests) == asked  # same code, same program: the cache answers

    learn(store, programs, repo_path=repo.work, lm=None, optimizer="labeled")
    diagnoser.propose([same])
    assert len(llm.requests) > asked  # a new program: asked again, with its demos
    assert "LEARNED-ROOT-CAUSE" in json.dumps(llm.requests[asked].json())
    db.dispose()


@pytest.mark.parametrize("database_url", ["sqlite", "postgres"], indirect=True)
def test_a_saved_program_round_trips_and_is_masked(database_url: str) -> None:
    db = Database(database_url)
    programs = ProgramStore(db)
    demo = {"root_cause": f"token {CODE_SECRET}", "edits": [{"path": "a.py"}], "confidence": 0.8}
    state = {"format": STATE_FORMAT, "predictors": {"analyze": {"demos": [demo]}}}
    saved = programs.save(state, optimizer="LabeledFewShot", model=None, proposal_ids=["fix_1"])
    again = ProgramStore(Database(database_url)).latest()
    assert again is not None and again.id == saved.id and again.proposal_ids == ["fix_1"]
    assert CODE_SECRET not in json.dumps(again.state)
    program = load_program(again.state)
    [loaded] = program.analyze.demos
    assert loaded.edits == [{"path": "a.py"}] and loaded.confidence == 0.8
    assert program.generate_fix.demos == []
    db.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'mendbot.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.mark.parametrize(
    "state",
    [
        {"format": "pickle", "predictors": {}},
        {"format": STATE_FORMAT, "predictors": {"os.system": {"demos": []}}},
        {"format": STATE_FORMAT, "predictors": {"analyze": {"demos": "rm -rf /"}}},
        {"format": STATE_FORMAT, "predictors": {"analyze": {"demos": [["not", "a", "dict"]]}}},
        {"format": STATE_FORMAT, "predictors": {"analyze": {"demos": [{"x": "y" * 30_000}]}}},
        {"format": STATE_FORMAT, "predictors": {"analyze": {"demos": [{}] * 17}}},
    ],
)
def test_a_corrupt_program_is_a_warning_and_the_uncompiled_program_runs(
    lm_settings, llm, state, caplog
) -> None:
    settings = lm_settings()
    db = Database(settings.database_url)
    programs = ProgramStore(db)
    saved = programs.save(state, optimizer="LabeledFewShot", model=None, proposal_ids=[])
    llm.respond_with(answering)
    with caplog.at_level(logging.WARNING, logger="mendbot.learning"):
        [proposal] = build_diagnoser(settings, program=ProgramLoader(programs)).propose(
            [A.keyerror()]
        )
    assert f"compiled diagnosis program #{saved.id} cannot be loaded" in caplog.text
    assert proposal.diagnosis.source == "lm"  # the uncompiled program answered
    assert len(llm.bodies()[0]["messages"]) == 2  # system and the question: no demos
    with pytest.raises(LearnError, match="cannot be loaded"):
        program_choice(programs, "latest")
    db.dispose()


def test_no_verified_fix_is_a_clear_error_and_nothing_is_saved(lm_settings, repo) -> None:
    settings = lm_settings()
    db = Database(settings.database_url)
    store, programs = ProposalStore(db), ProgramStore(db)
    with pytest.raises(NoExamples, match="no verified fix yet"):
        learn(store, programs, repo_path=repo.work, lm=None)
    hostile = Edit(path="../../outside.py", old_text="x", new_text="y")
    bad = verified_fix(store, repo, edits=[hostile])  # a path leaving the tree
    with pytest.raises(NoExamples, match=f"{bad.id}: an edit's path is refused"):
        learn(store, programs, repo_path=repo.work, lm=None)
    assert programs.latest() is None
    db.dispose()


def test_a_fix_commit_missing_from_the_checkout_is_skipped_with_the_reason(
    lm_settings, repo, tmp_path
) -> None:
    settings = lm_settings()
    db = Database(settings.database_url)
    store, programs = ProposalStore(db), ProgramStore(db)
    good = verified_fix(store, repo)
    gone = store.add(verified_fix(store, repo).model_copy(update={"id": ""}))
    for step in (S.APPROVED, S.APPLYING):
        store.transition(gone.id, step, actor="U0ALICE")
    store.transition(gone.id, S.APPLIED, actor="mendbot", commit_sha="0" * 40)
    store.transition(gone.id, S.VERIFIED, actor="mendbot")
    result = learn(store, programs, repo_path=repo.work, lm=None, optimizer="labeled")
    assert good.id in result.examples.proposal_ids
    assert [pid for pid, _ in result.examples.skipped] == [gone.id]
    assert "the fix commit is not in" in result.examples.skipped[0][1]
    db.dispose()


def test_a_stored_commit_that_reads_as_an_option_never_reaches_git(lm_settings, repo, tmp_path):
    settings = lm_settings()
    db = Database(settings.database_url)
    store, programs = ProposalStore(db), ProgramStore(db)
    good = verified_fix(store, repo)
    planted = tmp_path / "planted.tar"
    forged = store.add(verified_fix(store, repo).model_copy(update={"id": ""}))
    for step in (S.APPROVED, S.APPLYING):
        store.transition(forged.id, step, actor="U0ALICE")
    store.transition(forged.id, S.APPLIED, actor="mendbot", commit_sha=f"--output={planted}")
    store.transition(forged.id, S.VERIFIED, actor="mendbot")
    result = learn(store, programs, repo_path=repo.work, lm=None, optimizer="labeled")
    assert good.id in result.examples.proposal_ids
    assert forged.id not in result.examples.proposal_ids
    assert "is not a commit sha" in dict(result.examples.skipped)[forged.id]
    assert not planted.exists()
    db.dispose()


def test_bootstrap_keeps_the_lm_answers_that_make_the_verified_change(
    lm_settings, llm, repo
) -> None:
    settings = lm_settings()
    db = Database(settings.database_url)
    store, programs = ProposalStore(db), ProgramStore(db)
    verified_fix(store, repo)
    llm.respond_with(answering)
    result = learn(store, programs, repo_path=repo.work, lm=lm_config(settings), max_demos=2)
    assert result.program.optimizer == "BootstrapFewShot"
    assert result.program.model == "openai/fake-model"
    demos = result.program.state["predictors"]["generate_fix"]["demos"]
    assert any(d.get("augmented") for d in demos)  # a trace the metric accepted
    assert len(llm.requests) == 2  # the program ran once over the one example
    db.dispose()


def test_the_fix_metric_compares_the_code_the_edits_make() -> None:
    from types import SimpleNamespace

    code = "def f():\n    return 1\n"
    verified = [{"path": "a.py", "old_text": "    return 1\n", "new_text": "    return 2\n"}]
    example = SimpleNamespace(current_code=code, edits=verified)
    same = [Edit(path="a.py", old_text="    return 1", new_text="    return 2   ")]
    other = [Edit(path="a.py", old_text="    return 1", new_text="    return 3")]
    assert fix_metric(example, SimpleNamespace(edits=same))
    assert not fix_metric(example, SimpleNamespace(edits=other))
    assert not fix_metric(example, SimpleNamespace(edits=[]))


def test_the_learn_command_exit_codes(
    lm_settings, repo, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path
) -> None:
    settings = lm_settings()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    assert main(["learn"]) == 2  # no TARGET_REPO_PATH
    assert "set TARGET_REPO_PATH" in capsys.readouterr().err
    monkeypatch.setenv("TARGET_REPO_PATH", str(repo.work))
    get_settings.cache_clear()
    assert main(["learn", "--optimizer", "bootstrap"]) == 2  # no MENDBOT_LM
    assert main(["learn"]) == 1
    assert "no verified fix yet" in capsys.readouterr().err
    db = Database(settings.database_url)
    verified_fix(ProposalStore(db), repo)
    assert main(["learn", "--json", "--max-demos", "2"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert (row["type"], row["optimizer"], row["examples"]) == ("program", "LabeledFewShot", 1)
    assert ProgramStore(db).latest_id() == row["id"]
    db.dispose()
    get_settings.cache_clear()


def test_a_frame_moved_by_an_earlier_fix_is_found_again(lm_settings, repo) -> None:
    """Diagnosed on the code as it was; an earlier fix in the same file (applied first)
    moved orders() down twelve lines: the example still has its code context."""
    settings = lm_settings()
    db = Database(settings.database_url)
    store, programs = ProposalStore(db), ProgramStore(db)
    as_diagnosed = (repo.work / "app.py").read_text()
    app = repo.work / "app.py"
    moved = "".join(f"# moved down {n}\n" for n in range(12)) + '@app.post("/orders")'
    app.write_text(app.read_text().replace('@app.post("/orders")', moved))
    git(repo.work, "commit", "-qam", "an earlier fix above orders()")
    fix = verified_fix(store, repo, source=as_diagnosed)
    result = learn(store, programs, repo_path=repo.work, lm=None, optimizer="labeled")
    assert result.examples.proposal_ids == [fix.id] and result.examples.skipped == []
    [demo] = programs.latest().state["predictors"]["generate_fix"]["demos"]  # type: ignore[union-attr]
    assert 'STATS["users"][body["user_id"]]' in demo["current_code"]
    db.dispose()


def test_eval_program_choice_errors_are_clear(
    lm_settings, monkeypatch: pytest.MonkeyPatch, capsys, tmp_path
) -> None:
    """``mendbot eval --program``: nothing saved, or not an id, is exit 2 before any case
    runs."""
    settings = lm_settings()
    monkeypatch.chdir(tmp_path)
    for name, value in {
        "DATABASE_URL": settings.database_url,
        "MENDBOT_LM": "openai/fake-model",
        "OPENAI_BASE_URL": str(settings.openai_base_url),
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    case = str(ROOT / "evals" / "json_worker")
    assert main(["eval", case, "--program", "latest"]) == 2
    assert "no compiled program 'latest' is saved (run mendbot learn)" in capsys.readouterr().err
    assert main(["eval", case, "--program", "../../x"]) == 2
    assert "--program takes latest, none or a program id" in capsys.readouterr().err
    get_settings.cache_clear()
