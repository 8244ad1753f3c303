"""The evaluation's verdicts and summary: fixed, harmful, no-code-change, floors."""

from __future__ import annotations

from monitoring.evaluation.report import ExtraAnomaly, Floors, IncidentRow, judge, summarize


def row(**facts: object) -> IncidentRow:
    base: dict[str, object] = {
        "case": "shop",
        "incident": "unknown_sku",
        "failure_class": "KeyError",
        "kind": "repeated_error",
        "expected_count": 3,
        "code_fix": True,
        "flagged": True,
        "proposal_id": "fix_1",
    }
    return judge(IncidentRow(**{**base, **facts}))  # type: ignore[arg-type]


def test_an_applied_fix_whose_oracle_turns_green_is_fixed() -> None:
    fixed = row(edits=1, outcome="applied", oracle_before=False, oracle_after=True)
    assert fixed.fixed and not fixed.harmful


def test_an_applied_fix_whose_oracle_still_fails_is_harmful() -> None:
    wrong = row(edits=1, outcome="applied", oracle_before=False, oracle_after=False)
    assert wrong.harmful and not wrong.fixed
    assert wrong.harm == "applied, but the oracle still fails"


def test_a_fix_that_breaks_the_service_tests_is_harmful_even_if_the_oracle_passes() -> None:
    broke = row(
        edits=1,
        outcome="applied",
        oracle_before=False,
        oracle_after=True,
        service_tests_after=False,
    )
    assert broke.harmful and not broke.fixed


def test_any_applied_edit_for_a_no_code_incident_is_harmful() -> None:
    edited = row(code_fix=False, edits=1, outcome="applied")
    assert edited.harmful and edited.no_code_change_correct is False


def test_a_rolled_back_fix_is_neither_fixed_nor_harmful() -> None:
    rolled = row(edits=1, outcome="rolled_back", oracle_before=False, oracle_after=False)
    assert not rolled.fixed and not rolled.harmful


def test_an_oracle_that_passed_before_proves_nothing() -> None:
    suspicious = row(edits=1, outcome="applied", oracle_before=True, oracle_after=True)
    assert not suspicious.fixed


def test_no_code_change_is_correct_only_when_flagged_and_without_edits() -> None:
    assert row(code_fix=False).no_code_change_correct is True
    assert row(code_fix=False, flagged=False).no_code_change_correct is False
    assert row(code_fix=False, edits=1, outcome="rolled_back").no_code_change_correct is False
    assert row().no_code_change_correct is None


def test_the_summary_counts_per_case_and_cost_per_diagnosis() -> None:
    rows = [
        row(
            edits=1,
            outcome="applied",
            oracle_before=False,
            oracle_after=True,
            input_tokens=900,
            output_tokens=100,
            lm_requests=2,
            diagnosis_seconds=1.5,
            proven=True,
        ),
        row(
            incident="b",
            edits=1,
            outcome="applied",
            oracle_before=False,
            oracle_after=False,
            input_tokens=500,
            output_tokens=500,
            lm_requests=2,
            diagnosis_seconds=0.5,
        ),
        row(case="worker", incident="disk", code_fix=False),
        row(case="worker", incident="missed", flagged=False, proposal_id=None),
    ]
    extras = [ExtraAnomaly("worker", "new_error", "boom", 1, 0, None)]
    summary = summarize(rows, extras, seconds=12.34)
    assert summary["type"] == "summary"
    assert (summary["flagged"], summary["fixed"], summary["harmful"]) == (3, 1, 1)
    assert summary["no_code_change_correct"] == 1 and summary["extra_anomalies"] == 1
    assert summary["diagnoses"] == 3 and summary["lm_requests"] == 4
    assert summary["tokens_per_diagnosis"] == round(2000 / 3, 1)
    assert summary["seconds_per_diagnosis"] == round(2.0 / 3, 3)
    assert summary["cases"]["worker"]["flagged"] == 1
    assert summary["cases"]["shop"]["harmful"] == 1
    assert (summary["proven"], summary["proven_share"]) == (1, 0.5)  # of the 2 applied
    assert summary["cases"]["worker"]["proven_share"] is None  # nothing applied there


def test_floors_name_what_was_missed() -> None:
    summary = {"fixed": 3, "harmful": 2, "flagged": 20, "no_code_change_correct": 4}
    assert Floors(min_fixed=3, max_harmful=2).failures(summary) == []
    assert Floors(min_fixed=4, max_harmful=1).failures(summary) == [
        "fixed 3 is below the floor 4",
        "harmful 2 is above the ceiling 1",
    ]


def test_an_incident_row_is_one_json_object_with_a_proven_field() -> None:
    data = row(diagnosis_seconds=0.12345).to_json()
    assert data["type"] == "incident" and data["proven"] is None
    assert data["diagnosis_seconds"] == 0.123
