"""The Diagnoser offline (no LM) and the edit checks every proposal passes before storage."""

from __future__ import annotations

import logging
from datetime import UTC
from pathlib import Path

import pytest

from core.edits import EditRejected, check_edits
from core.models import Anomaly, FrameModel
from core.policy import DEFAULT_POLICY
from core.proposals import Edit, ProposalStatus
from core.review import REJECT_EMPTY, ReviewedChange, review_change
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.context import build_context
from monitoring.diagnosis.repo import RepoIndex
from monitoring.runtime import build_diagnoser
from tests.conftest import ROOT
from tests.fakes import anomalies as A
from tests.fakes.git import make_repo

SERVICE = ROOT / "examples" / "service"
KEY_LINE = '    user = STATS["users"][body["user_id"]]   # bug: unknown users raise KeyError'


@pytest.fixture
def repo(tmp_path: Path):
    return make_repo(tmp_path, copy_from=SERVICE)


def test_one_unsaved_proposal_per_anomaly_in_the_given_order(make_settings, repo):
    batch = [
        A.slow(),
        A.truncation(),
        A.keyerror(),
        A.duplicates(),
        A.mcp_error(),
        A.zero_division(),
        A.json_error(),
    ]

    proposals = build_diagnoser(make_settings(target_repo_path=repo.work)).propose(batch)

    assert [p.fingerprint for p in proposals] == [a.fingerprint for a in batch]
    for proposal, anomaly in zip(proposals, batch, strict=True):
        assert proposal.id == "" and proposal.status is ProposalStatus.PROPOSED
        assert proposal.anomaly == anomaly
        assert proposal.created_at.tzinfo is UTC
        assert proposal.diagnosis.source == "playbook" and proposal.title
    by_kind = {p.fingerprint: p for p in proposals}
    assert by_kind["truncation00llm"].implementable
    assert by_kind["keyerror0000orders"].implementable
    assert by_kind["keyerror0000orders"].title == "Answer 404 for an unknown user_id in orders()"
    assert by_kind["json000report"].implementable
    assert by_kind["zero000average"].implementable
    for proposal in proposals:
        assert "<NUM>" not in proposal.title and "<*>" not in proposal.title
    for fingerprint in ("slow000llm", "dup000slack", "mcp000connect"):
        assert not by_kind[fingerprint].implementable
    for proposal in proposals:
        check_edits(repo.work, proposal.edits)


def test_titles_name_the_app_function_even_without_a_repository(make_settings):
    proposals = build_diagnoser(make_settings()).propose([A.json_error(), A.keyerror()])
    # The innermost frame is the stdlib's json decoder; the title names the app's code.
    assert [p.title for p in proposals] == ["JSONDecodeError in report()", "KeyError in orders()"]


def test_no_anomalies_no_work(make_settings):
    assert build_diagnoser(make_settings()).propose([]) == []


def test_without_a_repository_proposals_have_root_causes_and_no_edits(make_settings):
    proposals = build_diagnoser(make_settings()).propose([A.keyerror(), A.truncation()])
    assert all(p.edits == [] and p.reasoning == msg.NO_REPOSITORY for p in proposals)
    assert "19 times" in proposals[0].diagnosis.root_cause


def test_a_missing_repository_is_logged_not_fatal(make_settings, tmp_path, caplog):
    settings = make_settings(target_repo_path=tmp_path / "nowhere")
    with caplog.at_level(logging.WARNING, logger="mendbot.diagnosis"):
        [proposal] = build_diagnoser(settings).propose([A.keyerror()])
    assert proposal.edits == [] and "not a directory" in caplog.text


def test_secrets_from_the_log_never_reach_the_proposals_text(make_settings, repo):
    leaky = A.keyerror(exception_message="'sk-liveABCDEF0123456789xyz'")
    [proposal] = build_diagnoser(make_settings(target_repo_path=repo.work)).propose([leaky])
    text = proposal.model_dump_json(exclude={"anomaly"})
    assert "sk-liveABCDEF0123456789xyz" not in text and "<SECRET_1>" in text


def test_odd_frames_do_not_break_the_cycle(make_settings, repo):
    (repo.work / "broken.py").write_text("def f(:\n")
    (repo.work / "blob.py").write_bytes(b"\xff\xfe\x00binary")
    frames = [
        FrameModel(file="/app/app.py", line=9_999, function="gone"),
        FrameModel(file="/app/broken.py", line=1, function="f"),
        FrameModel(file="/app/blob.py", line=1, function="g"),
    ]
    [proposal] = build_diagnoser(make_settings(target_repo_path=repo.work)).propose(
        [A.keyerror(frames=frames)]
    )
    assert proposal.edits == [] and proposal.diagnosis.root_cause


# --- the edit checks ----------------------------------------------------------------------

MAX_PROPOSAL_CHANGED_LINES = DEFAULT_POLICY.max_changed_lines


def review_edits(
    edits: list[Edit], *, repo_root: Path, anomaly: Anomaly | None = None
) -> list[Edit]:
    """The review diagnosis runs, with the evidence the KeyError anomaly gives."""
    return _reviewed(edits, repo_root, anomaly or A.keyerror()).edits


def _reviewed(edits: list[Edit], repo_root: Path, anomaly: Anomaly) -> ReviewedChange:
    context = build_context(anomaly, RepoIndex(root=repo_root))
    return review_change(repo_root, edits, context.evidence, anomaly=anomaly, policy=DEFAULT_POLICY)


def _guard(old: str = KEY_LINE) -> Edit:
    return Edit(
        path="app.py",
        old_text=old,
        new_text='    if body["user_id"] not in STATS["users"]:\n'
        '        raise HTTPException(404, "unknown user")\n' + old,
    )


def test_a_good_edit_passes_and_its_path_is_normalised(repo):
    [edit] = review_edits([_guard().model_copy(update={"path": "./app.py"})], repo_root=repo.work)
    assert edit.path == "app.py"


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (Edit(path="../outside.py", old_text="", new_text="x = 1\n"), "leaves the repository"),
        (Edit(path="/etc/passwd", old_text="root", new_text="x"), "absolute paths"),
        (Edit(path=".git/config", old_text="[core]", new_text="x"), "protected"),
        (Edit(path=".env", old_text="", new_text="A=1\n"), "protected"),
        (
            Edit(path=".github/workflows/deploy.yml", old_text="", new_text="on: push\n"),
            "protected",
        ),
        (
            Edit(path="app.py", old_text='    return {"ok": True}', new_text="    pass"),
            "occurs 6 times",
        ),
        (Edit(path="app.py", old_text="no such text", new_text="x"), "does not occur"),
        (Edit(path="traffic.py", old_text="", new_text="x = 1\n"), "creates a new file"),
        (
            Edit(path="examples_extra.py", old_text="VALUE = 1", new_text="VALUE = 2"),
            "not a file the evidence",
        ),
        (
            Edit(path="app.py", old_text=KEY_LINE, new_text="    user = (\n"),
            "no longer be valid Python",
        ),
        (
            Edit(path="app.py", old_text=KEY_LINE, new_text='    user = "<SECRET_1>"'),
            "masked secret placeholder",
        ),
        (
            Edit(
                path="app.py",
                old_text=KEY_LINE,
                new_text="\n".join(["    pass"] * MAX_PROPOSAL_CHANGED_LINES),
            ),
            "limit 60",
        ),
    ],
)
def test_edits_that_break_a_rule_are_refused_with_the_reason(repo, edit, reason):
    (repo.work / "examples_extra.py").write_text("VALUE = 1\n")
    with pytest.raises(EditRejected, match=reason):
        review_edits([_guard(), edit], repo_root=repo.work)
    assert (repo.work / "app.py").read_text() == (SERVICE / "app.py").read_text()


def test_no_edit_is_allowed_when_the_evidence_names_no_file(repo):
    with pytest.raises(EditRejected, match="no file is pointed at"):
        review_edits([_guard()], repo_root=repo.work, anomaly=A.keyerror(frames=[]))
    with pytest.raises(EditRejected, match=REJECT_EMPTY):
        review_edits([], repo_root=repo.work)


def test_a_planted_frame_cannot_make_protected_or_outside_files_evidence(make_settings, repo):
    planted = [
        FrameModel(file="/app/.git/config", line=1, function="x"),
        FrameModel(file="/app/../../etc/passwd", line=1, function="x"),
        FrameModel(file="/app/.github/workflows/ci.yml", line=1, function="x"),
    ]
    (repo.work / ".github" / "workflows").mkdir(parents=True)
    (repo.work / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    [proposal] = build_diagnoser(make_settings(target_repo_path=repo.work)).propose(
        [A.keyerror(frames=planted)]
    )
    assert proposal.edits == [] and proposal.diagnosis.affected_components == []
