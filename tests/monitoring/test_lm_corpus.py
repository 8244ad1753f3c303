"""Every answer the real local model gave on the bundled cases, read again.

``tests/data/lm_answers/qwen2.5-coder-1.5b.jsonl`` holds the assistant messages
Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, llama.cpp) wrote during ``mendbot eval --lm-only``
(README, "The LM on a real model"), one per line with the case and the files the fix
request showed. No LM runs here: the answers are parsed with the adapters and their edits
located against the case's service, so a change to the readings is checked against what a
real weak model writes, not only against shapes written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

from dspy.utils.exceptions import AdapterParseError

from core.edits import EditRejected
from core.policy import DEFAULT_POLICY
from core.proposals import Edit
from monitoring.diagnosis.adapter import TolerantChatAdapter, TolerantJSONAdapter
from monitoring.diagnosis.locate import locate_edits
from monitoring.diagnosis.signatures import AnalyzeAnomaly, GenerateFix
from monitoring.evaluation.cases import BUNDLED_CASES_DIR

CORPUS = Path(__file__).parents[1] / "data" / "lm_answers" / "qwen2.5-coder-1.5b.jsonl"
ANSWERS = [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]
FIXES = [a for a in ANSWERS if a["signature"] == "GenerateFix"]
ANALYSES = [a for a in ANSWERS if a["signature"] == "AnalyzeAnomaly"]


def test_the_corpus_holds_real_answers_of_both_kinds():
    assert len(FIXES) >= 8 and len(ANALYSES) >= 8
    assert {a["case"] for a in ANSWERS} <= {p.name for p in BUNDLED_CASES_DIR.iterdir()}


def test_every_fix_answer_reads_and_every_edit_is_located_exactly_or_refused():
    located, refused = [], []
    for answer in FIXES:
        fields = TolerantChatAdapter().parse(GenerateFix, answer["answer"])
        repo = BUNDLED_CASES_DIR / answer["case"] / "service"
        for proposed in fields["edits"]:
            edit = Edit(path=proposed.path, old_text=proposed.old_text, new_text=proposed.new_text)
            try:
                [exact] = locate_edits(
                    repo, [edit], evidence_files=answer["shown_files"], policy=DEFAULT_POLICY
                )
            except EditRejected as rejected:
                refused.append(rejected.reason)
                continue
            assert (repo / exact.path).read_text().count(exact.old_text) == 1
            located.append(exact)
    assert located, "no real edit was located: the locator no longer reads the model"
    print(
        f"\n[real model] {len(FIXES)} fix answers: {len(located)} edits located, refused: {refused}"
    )


def test_analysis_answers_read_or_are_refused_with_dspys_parse_error():
    """Most read; one that lacks a field (the model stopped before confidence) is
    refused, never guessed, and the JSON fallback or the playbook takes over."""
    read = 0
    for answer in ANALYSES:  # JSON ones answered DSPy's JSON-adapter fallback
        chat = answer["answer"].lstrip().startswith("[[")
        adapter = TolerantChatAdapter() if chat else TolerantJSONAdapter(ask_json_object=False)
        try:
            fields = adapter.parse(AnalyzeAnomaly, answer["answer"])
        except AdapterParseError:
            assert chat, "a JSON answer of the fallback did not read"
            continue
        assert fields["severity_assessment"] in ("LOW", "MEDIUM", "HIGH", "CRITICAL")
        assert isinstance(fields["affected_components"], list)
        read += 1
    assert read >= 0.8 * len(ANALYSES)
