# ruff: noqa: F811  (the fixtures of test_diagnoser_lm are imported, then requested by name)
"""The LM path against the failure shapes a real small model showed, over real HTTP.

Each scripted answer reproduces what Qwen2.5-Coder-1.5B (llama.cpp, see README "The LM on
a real model") wrote on the bundled cases: edits whose JSON strings hold unescaped quotes,
paths such as ``app.py:31``, ``old_text`` with its quotes and indentation changed, an empty
``old_text``, a risk written as ``**low**``, answers without the asked fields. The
Diagnoser builds a real ``dspy.LM``; nothing of ours is mocked.
"""

from __future__ import annotations

import itertools
import os
from typing import Any

import pytest

from core.edits import check_edits
from monitoring.runtime import build_diagnoser
from tests.fakes import anomalies as A
from tests.fakes.openai import FakeOpenAI, Scripted, chat_fields, is_fix_request
from tests.monitoring.test_diagnoser_lm import (  # noqa: F401
    ANALYSIS,
    KEY_LINE,
    fix_reply,
    guard_edit,
    llm,
    lm_settings,
    repo,
)

#: The KeyError line as the model rewrote it: no indentation, single quotes, the planted
#: secret still masked (the diagnoser restores it), a path with the line number.
DRIFTED_OLD = (
    "user = STATS['users'][body['user_id']]   # bug: unknown users raise KeyError "
    "token=<CODE_SECRET_1>"
)
DRIFTED_NEW = (
    "if body['user_id'] not in STATS['users']:\n"
    '    raise HTTPException(status_code=404, detail="unknown user")\n' + DRIFTED_OLD
)


def raw_fix(edits_text: str, risk: str = "**low**") -> str:
    """A fix answer in the chat format whose edits field is written as given, and no
    regression_test field at all (the model often leaves it out)."""
    return (
        f"[[ ## edits ## ]]\n{edits_text}\n\n[[ ## reasoning ## ]]\nGuard the lookup.\n\n"
        f"[[ ## risk_assessment ## ]]\n{risk}\n\n[[ ## completed ## ]]"
    )


def unescaped(path: str, old: str, new: str) -> str:
    """One edit as the model writes it: JSON, with the code's quotes not escaped."""
    esc = lambda s: s.replace("\n", "\\n")  # noqa: E731
    return f'[\n  {{\n    "path": "{path}",\n    "old_text": "{esc(old)}",\n    "new_text": "{esc(new)}"\n  }}\n]'


def fixes(llm: FakeOpenAI) -> list[dict[str, Any]]:
    return [body for body in llm.bodies() if is_fix_request(body)]


def user_text(body: dict[str, Any]) -> str:
    return next(m["content"] for m in body["messages"] if m["role"] == "user")


def test_the_real_models_near_miss_becomes_the_exact_reviewed_edit(llm, lm_settings, repo):
    near_miss = raw_fix(unescaped("app.py:31", DRIFTED_OLD, DRIFTED_NEW))
    llm.respond_with(lambda body: near_miss if is_fix_request(body) else ANALYSIS)

    [proposal] = build_diagnoser(lm_settings()).propose([A.keyerror()])

    assert len(llm.requests) == 2  # read at once: no retry, no JSON fallback
    assert proposal.diagnosis.source == "lm" and proposal.risk == "LOW"
    [edit] = proposal.edits
    line = next(x for x in (repo.work / "app.py").read_text().splitlines() if KEY_LINE in x)
    assert edit.path == "app.py" and edit.old_text == line  # the file's exact text
    assert edit.new_text.splitlines()[0] == "    if body['user_id'] not in STATS['users']:"
    assert edit.new_text.splitlines()[-1] == line
    check_edits(repo.work, proposal.edits)


def test_an_edit_without_a_path_takes_the_one_file_the_evidence_names(llm, lm_settings):
    no_path = raw_fix(f'[{{"old_text": "{DRIFTED_OLD}", "new_text": "    pass"}}]')
    llm.respond_with(lambda body: no_path if is_fix_request(body) else ANALYSIS)

    [proposal] = build_diagnoser(lm_settings()).propose([A.keyerror()])

    assert [e.path for e in proposal.edits] == ["app.py"]


def test_a_fix_that_does_not_parse_is_retried_once_quoting_the_parse_problem(llm, lm_settings):
    answers = itertools.chain(
        ["I would guard the lookup.", "Still prose, no JSON."],  # chat, then DSPy's JSON try
        itertools.repeat(None),
    )

    def respond(body: dict[str, Any]) -> str:
        if not is_fix_request(body):
            return ANALYSIS
        return next(answers) or fix_reply([guard_edit(body)])

    llm.respond_with(respond)

    [proposal] = build_diagnoser(lm_settings()).propose([A.keyerror()])

    tries = fixes(llm)
    assert len(tries) == 3  # chat, JSON fallback, one retry
    assert "none" in user_text(tries[0]) and "could not be read" not in user_text(tries[0])
    assert "Your previous answer could not be read: the answer" in user_text(tries[2])
    assert proposal.diagnosis.source == "lm" and len(proposal.edits) == 1
    assert any("asked once more" in note for note in proposal.notes)


def test_an_empty_old_text_is_retried_with_what_to_do_instead(llm, lm_settings):
    empty = {"path": "app.py", "old_text": "", "new_text": "import os\n"}
    attempts = iter([lambda b: fix_reply([empty]), lambda b: fix_reply([guard_edit(b)])])
    llm.respond_with(lambda body: next(attempts)(body) if is_fix_request(body) else ANALYSIS)

    [proposal] = build_diagnoser(lm_settings()).propose([A.keyerror()])

    assert "old_text is empty; copy the whole lines" in user_text(fixes(llm)[1])
    assert len(proposal.edits) == 1 and proposal.edits[0].old_text != ""


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("../outside.py", "leaves the repository"),
        ("/etc/hosts", "absolute paths are not allowed"),
        ("app.py\\u0000.txt", "control or invisible characters"),
        ("link.py", "leaves the repository"),
        ("app\\u001b[2J.py", "control or invisible characters"),
    ],
)
def test_hostile_paths_in_an_answer_are_refused_and_nothing_outside_is_touched(
    llm, lm_settings, repo, path, reason
):
    outside = repo.work.parent / "outside.py"
    outside.write_text("x = 1\n")
    os.symlink(outside, repo.work / "link.py")
    hostile = raw_fix(f'[{{"path": "{path}", "old_text": "x = 1", "new_text": "x = 2"}}]')
    llm.respond_with(lambda body: hostile if is_fix_request(body) else ANALYSIS)

    [proposal] = build_diagnoser(lm_settings(lm_only=True)).propose([A.keyerror()])

    assert len(fixes(llm)) == 2 and reason in user_text(fixes(llm)[1])
    assert proposal.edits == [] and any(reason in n for n in proposal.notes)
    assert outside.read_text() == "x = 1\n"


def test_lm_only_proposes_no_playbook_edit_when_the_lm_edits_are_refused(llm, lm_settings):
    wrong = {"path": "app.py", "old_text": "user = USERS[user_id]", "new_text": "pass"}
    llm.respond_with(lambda body: fix_reply([wrong]) if is_fix_request(body) else ANALYSIS)

    [proposal] = build_diagnoser(lm_settings(lm_only=True)).propose([A.keyerror()])

    assert proposal.diagnosis.source == "lm" and proposal.edits == []
    assert any("LM edits dropped" in n and "does not occur" in n for n in proposal.notes)
    assert not any("playbook's edit is proposed instead" in n for n in proposal.notes)


def test_lm_only_keeps_asking_the_lm_after_a_timeout_and_offers_no_playbook_edit(llm, lm_settings):
    llm.reply(Scripted(content=ANALYSIS, delay_seconds=2.0))
    llm.respond_with(lambda body: fix_reply([]) if is_fix_request(body) else ANALYSIS)

    key, trunc = build_diagnoser(lm_settings(lm_only=True, lm_timeout_seconds=0.5)).propose(
        [A.keyerror(), A.truncation()]
    )

    assert key.diagnosis.source == "playbook" and key.edits == []
    assert any("MENDBOT_LM_ONLY" in n for n in key.notes)
    assert trunc.diagnosis.source == "lm"  # asked, not skipped for the rest of the cycle


def test_json_adapter_asks_for_json_object_and_the_output_cap_goes_over_the_wire(llm, lm_settings):
    analysis = (
        '{"root_cause": "unknown user ids", "severity_assessment": "**HIGH**", '
        '"affected_components": ["app.py:orders"], "confidence": 0.8}'
    )

    def respond(body: dict[str, Any]) -> str:
        if not is_fix_request(body):
            return analysis
        edit = guard_edit(body)
        return (
            '{"edits": ' + unescaped(edit["path"], edit["old_text"], edit["new_text"]) + ", "
            '"reasoning": "guard", "risk_assessment": {"level": "Low", "notes": "404"}}'
        )

    llm.respond_with(respond)

    [proposal] = build_diagnoser(lm_settings(lm_adapter="json", lm_max_tokens=1500)).propose(
        [A.keyerror()]
    )

    bodies = llm.bodies()
    assert len(bodies) == 2
    assert all(b["response_format"] == {"type": "json_object"} for b in bodies)
    assert all(1500 in (b.get("max_tokens"), b.get("max_completion_tokens")) for b in bodies)
    assert proposal.diagnosis.source == "lm" and proposal.risk == "LOW"
    assert len(proposal.edits) == 1


def test_chat_fields_helper_still_parses_strictly(llm, lm_settings):
    """The strict path is untouched: a well-formed answer parses as DSPy parses it."""
    answer = chat_fields(edits=[], reasoning="nothing safe", risk_assessment={"level": "LOW"})
    llm.respond_with(lambda body: answer if is_fix_request(body) else ANALYSIS)
    [proposal] = build_diagnoser(lm_settings()).propose([A.keyerror()])
    assert len(llm.requests) == 2 and proposal.edits == []
    assert proposal.reasoning == "nothing safe"


@pytest.mark.parametrize(
    ("model", "field"),
    [
        ("openai/fake-model", "max_completion_tokens"),  # OpenAI's own name
        ("hosted_vllm/fake-model", "max_tokens"),  # what llama-cpp-python's server reads
    ],
)
def test_the_output_cap_uses_the_field_the_model_string_names(llm, lm_settings, model, field):
    """README, "The LM on a real model": a self-hosted OpenAI-compatible server that reads
    only ``max_tokens`` is named ``hosted_vllm/<model>`` so that the cap binds there."""
    build_diagnoser(lm_settings(lm=model, lm_max_tokens=700)).propose([A.keyerror()])

    bodies = llm.bodies()
    assert bodies and all(b.get(field) == 700 for b in bodies)
