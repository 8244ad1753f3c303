"""Reading what a model meant: the near misses a real 1.5B model wrote (unescaped quotes in
JSON strings, Python reprs, Markdown risk levels, labelled prose), through DSPy's own
adapters subclassed in monitoring/diagnosis/adapter.py. No LM: parse() on the answer text."""

from __future__ import annotations

import json

import pytest
from dspy.utils.exceptions import AdapterParseError

from monitoring.diagnosis.adapter import TolerantChatAdapter, TolerantJSONAdapter, read_value
from monitoring.diagnosis.coerce import read_edits, read_risk, risk_level
from monitoring.diagnosis.signatures import AnalyzeAnomaly, GenerateFix, ProposedEdit

#: Verbatim from Qwen2.5-Coder-1.5B on evals/flask_shop (code quotes not escaped).
UNESCAPED = """[
    {
        "path": "shop/payments.py",
        "old_text": "body = json.dumps({"order": order_id, "amount": amount_cents}).encode()",
        "new_text": "log.error(\\"Payment gateway unreachable: %s\\", error)\\nraise"
    },
    {
        "path": "shop/payments.py",
        "old_text": "json.load(response)",
        "new_text": "try:\\n    json.load(response)"
    }
]"""


def chat(**fields: str) -> str:
    parts = [f"[[ ## {name} ## ]]\n{value}" for name, value in fields.items()]
    return "\n\n".join([*parts, "[[ ## completed ## ]]"])


def test_unescaped_quotes_in_json_strings_are_cut_at_the_known_keys():
    first, second = read_edits(UNESCAPED)
    assert first == {
        "path": "shop/payments.py",
        "old_text": 'body = json.dumps({"order": order_id, "amount": amount_cents}).encode()',
        "new_text": 'log.error("Payment gateway unreachable: %s", error)\nraise',
    }
    assert second["new_text"] == "try:\n    json.load(response)"


@pytest.mark.parametrize(
    "written",
    [
        "[{'path': 'app.py', 'old_text': 'x = 1', 'new_text': 'x = 2'}]",  # a Python repr
        '```json\n[{"path": "app.py", "old_text": "x = 1", "new_text": "x = 2"}]\n```',
        '{"file": "app.py", "old": "x = 1", "new": "x = 2"}',  # one object, synonyms
        "[{'path': 'app.py', 'old_text': 'x = 1', 'new_text': 'x = 2', 'why': None}]",
    ],
)
def test_reprs_fences_single_objects_and_synonyms_read_as_edits(written):
    assert read_edits(written) == [{"path": "app.py", "old_text": "x = 1", "new_text": "x = 2"}]


def test_code_that_looks_like_a_key_inside_a_value_is_not_cut():
    text = '[{"path": "a.py", "old_text": "f(path="x")", "new_text": "f(path="y")"}]'
    [edit] = read_edits(text)
    assert edit["old_text"] == 'f(path="x")' and edit["new_text"] == 'f(path="y")'


def test_prose_and_oversized_answers_are_not_read_as_edits():
    assert read_edits("I would add a guard before the lookup.") is None
    assert read_edits('[{"path": "' + "a" * 70_000 + '"}]') is None


@pytest.mark.parametrize(
    ("written", "level", "notes"),
    [
        ("**low**", "LOW", ""),
        (
            "Level: MEDIUM\nNotes: This edit adds a dependency.",
            "MEDIUM",
            "This edit adds a dependency",
        ),
        ("**High** - it changes the API", "HIGH", "it changes the API"),
        ('{"level": "`medium`", "notes": "n"}', "MEDIUM", "n"),
    ],
)
def test_risk_in_markdown_or_prose_reads_as_a_risk_assessment(written, level, notes):
    risk = read_value(written, GenerateFix.output_fields["risk_assessment"].annotation)
    assert (risk.level, risk.notes) == (level, notes)


def test_a_risk_without_a_level_is_still_refused():
    assert read_risk("it depends") == "it depends"
    assert risk_level("**catastrophic**") == "**catastrophic**"
    with pytest.raises(ValueError):
        read_value("it depends", GenerateFix.output_fields["risk_assessment"].annotation)


def test_an_edit_without_a_path_parses_with_an_empty_path_for_the_locator():
    edits = read_value('[{"old_text": "a", "new_text": "b"}]', list[ProposedEdit])
    assert edits == [ProposedEdit(path="", old_text="a", new_text="b")]


def test_chat_adapter_reads_the_real_models_fix_answer():
    answer = chat(
        edits=UNESCAPED,
        reasoning="Guard it.",
        risk_assessment="Level: MEDIUM\nNotes: Retries change.",
    )  # and no regression_test at all

    fields = TolerantChatAdapter().parse(GenerateFix, answer)

    assert [e.path for e in fields["edits"]] == ["shop/payments.py"] * 2
    assert fields["risk_assessment"].level == "MEDIUM"
    assert fields["regression_test"] == ""


def test_chat_adapter_reads_markdown_severity_and_percent_confidence():
    answer = chat(
        root_cause="The lookup fails.",
        severity_assessment="**HIGH**",
        affected_components='["shop/views.py:product"]',
        confidence="85%",
    )
    fields = TolerantChatAdapter().parse(AnalyzeAnomaly, answer)
    assert (fields["severity_assessment"], fields["confidence"]) == ("HIGH", 0.85)


def test_chat_adapter_still_refuses_an_answer_without_its_fields():
    with pytest.raises(AdapterParseError):
        TolerantChatAdapter().parse(GenerateFix, chat(reasoning="no edits field"))
    with pytest.raises(AdapterParseError):
        TolerantChatAdapter().parse(AnalyzeAnomaly, chat(root_cause="x", confidence="high"))


def test_json_adapter_reads_edits_whose_strings_hold_unescaped_quotes():
    answer = (
        '{"edits": ' + UNESCAPED + ', "reasoning": "r", '
        '"risk_assessment": {"level": "**Low**", "notes": "n"}, "regression_test": ""}'
    )
    fields = TolerantJSONAdapter(ask_json_object=True).parse(GenerateFix, answer)
    assert fields["edits"][0].old_text.startswith('body = json.dumps({"order"')
    assert fields["risk_assessment"].level == "LOW"


def test_json_adapter_strict_answers_parse_as_dspy_parses_them():
    answer = json.dumps(
        {
            "edits": [{"path": "a.py", "old_text": "x", "new_text": "y"}],
            "reasoning": "r",
            "risk_assessment": {"level": "LOW", "notes": "n"},
            "regression_test": "",
        }
    )
    fields = TolerantJSONAdapter(ask_json_object=False).parse(GenerateFix, answer)
    assert fields["edits"] == [ProposedEdit(path="a.py", old_text="x", new_text="y")]


def test_mixed_escaped_and_unescaped_quotes_keep_the_whole_new_text():
    """Verbatim shape from the real model: json_repair (DSPy's fallback) ends new_text at
    ``{"order": order_id`` and the shortened text still validates; ours reads it whole."""
    answer = chat(
        edits='[{"old_text": "x = 1", "new_text": "data = json.dumps({"order": order_id, '
        '\\"amount\\": cents}).encode()\\nreturn data", "path": "shop/payments.py:30"}]',
        reasoning="r",
        risk_assessment='{"level": "HIGH", "notes": "n"}',
        regression_test="",
    )
    [edit] = TolerantChatAdapter().parse(GenerateFix, answer)["edits"]
    assert edit.new_text == (
        'data = json.dumps({"order": order_id, "amount": cents}).encode()\nreturn data'
    )
    assert edit.path == "shop/payments.py:30"  # the locator normalises it


def test_components_written_as_a_markdown_list_read_as_a_list():
    """Verbatim shape from the real model on flask_shop (it cost a JSON-fallback request)."""
    answer = chat(
        root_cause="The gateway is down.",
        severity_assessment="HIGH",
        affected_components="- shop/payments.py:30 (writes the message)\n- lines 28-31:\n"
        "    ```python\n    return json.load(response)\n    ```",
        confidence="0.9",
    )
    fields = TolerantChatAdapter().parse(AnalyzeAnomaly, answer)
    assert fields["affected_components"] == [
        "shop/payments.py:30 (writes the message)",
        "lines 28-31:",
    ]


def test_edits_as_a_fenced_python_literal_with_triple_quoted_strings():
    """Verbatim shape from the real model on json_worker."""
    written = (
        '```python\n[\n    {\n        "old_text": """\n        return json.loads(text)\n'
        '        """,\n        "new_text": """\n        try:\n            return json.loads(text)\n'
        '        except json.JSONDecodeError:\n            raise\n        """,\n'
        '        "path": "worker/handlers.py lines 24"\n    }\n]\n```'
    )
    [edit] = read_value(written, list[ProposedEdit])
    assert edit.path == "worker/handlers.py lines 24"
    assert edit.old_text.strip() == "return json.loads(text)"
