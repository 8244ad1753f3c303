"""Proposal titles read like a person wrote them: never a ``<NUM>`` or ``<ID>``."""

from __future__ import annotations

import pytest

from monitoring.diagnosis.context import CodeContext
from monitoring.diagnosis.titles import humanize, title_for
from tests.fakes import anomalies as A


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("LM response truncated (max_tokens=<NUM>, needed=<NUM>)", "LM response truncated"),
        (
            "[worker] Duplicate entry <ID> ignored by the API",
            "Duplicate entry … ignored by the API",
        ),
        (
            "Geocoder rate limited us (HTTP <NUM>, Retry-After=<NUM>); will retry",
            "Geocoder rate limited us (HTTP …); will retry",
        ),
        ("Slow LM call: <NUM>s for request <NUM>", "Slow LM call: … for request …"),
        ("<NUM>", "…"),  # nothing but a value
    ],
)
def test_humanize_takes_the_placeholders_out(template, expected):
    assert humanize(template) == expected


def test_a_worded_title_wins_and_every_title_fits_one_line():
    anomaly = A.truncation()
    assert title_for(anomaly, CodeContext()) == "Truncated output: LM response truncated"
    worded = "Raise MAX_TOKENS 3000 → 10000: LM response truncated 11 times"
    assert title_for(anomaly, CodeContext(), worded) == worded
    long = title_for(anomaly, CodeContext(), "x" * 200)
    assert len(long) == 90 and long.endswith("…")
