"""Test support: anomalies built by hand from ../shared/data/applogs/asgi_service.log.

The analyzer is another stage; diagnosis tests build its output directly, with samples
copied from the real log (so they do not depend on the shared folder) and frames as the
parser reports them (``/app/...`` paths, site-packages frames first).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.models import Anomaly, FrameModel, Severity

FIRST = datetime(2026, 11, 21, 18, 24, 50, tzinfo=UTC)
LAST = datetime(2026, 11, 21, 18, 26, 10, tzinfo=UTC)
LIB = "/app/.venv/lib/python3.11/site-packages/"

#: One whole KeyError traceback from the real log (lines 67-121), as uvicorn printed it.
KEYERROR_TRACEBACK = (Path(__file__).parent / "keyerror_traceback.txt").read_text().rstrip()

_LLM = "app.llm - WARNING - LM response truncated"
TRUNCATION_LINES = [
    f"2026-11-21 18:24:54,417 - {_LLM} (max_tokens=3000, needed=3639)",
    f"2026-11-21 18:24:54,582 - {_LLM} (max_tokens=3000, needed=4788)",
    f"2026-11-21 18:24:56,338 - {_LLM} (max_tokens=3000, needed=8292)",
]


def anomaly(**fields: Any) -> Anomaly:
    """An Anomaly with sensible defaults for the fields a test does not care about."""
    base: dict[str, Any] = {
        "fingerprint": "0" * 16,
        "count": 3,
        "first_seen": FIRST,
        "last_seen": LAST,
        "severity": Severity.MEDIUM,
        "template": "x",
    }
    base.update(fields)
    return Anomaly(**base)


def keyerror(**fields: Any) -> Anomaly:
    """The KeyError in orders() (app.py:31), 19 times."""
    return anomaly(
        **{
            "kind": "repeated_error",
            "fingerprint": "keyerror0000orders",
            "count": 19,
            "template": "KeyError at /app/app.py:orders",
            "severity": Severity.HIGH,
            "exception_type": "KeyError",
            "exception_message": "'ghost5187'",
            "frames": [
                FrameModel(
                    file=LIB + "uvicorn/protocols/http/h11_impl.py", line=411, function="run_asgi"
                ),
                FrameModel(file=LIB + "starlette/routing.py", line=289, function="handle"),
                FrameModel(
                    file=LIB + "fastapi/routing.py", line=381, function="run_endpoint_function"
                ),
                FrameModel(file="/app/app.py", line=31, function="orders"),
            ],
            "samples": [KEYERROR_TRACEBACK],
            **fields,
        }
    )


def truncation(**fields: Any) -> Anomaly:
    """LM response truncated (max_tokens=3000, needed=...), 11 times."""
    return anomaly(
        **{
            "kind": "truncation",
            "fingerprint": "truncation00llm",
            "count": 11,
            "template": "LM response truncated (max_tokens=<NUM>, needed=<NUM>)",
            "logger": "app.llm",
            "severity": Severity.MEDIUM,
            "details": {"max_tokens": 3000},
            "samples": list(TRUNCATION_LINES),
            **fields,
        }
    )


def slow(**fields: Any) -> Anomaly:
    """Slow LM call: 1.20s for request 290."""
    return anomaly(
        **{
            "kind": "slow_operation",
            "fingerprint": "slow000llm",
            "count": 3,
            "template": "Slow LM call: <NUM>s for request <NUM>",
            "logger": "app.llm",
            "severity": Severity.LOW,
            "samples": [
                "2026-11-21 18:25:33,120 - app.llm - WARNING - Slow LM call: 1.20s for request 290"
            ],
            **fields,
        }
    )


def duplicates(**fields: Any) -> Anomaly:
    """Duplicate Slack event ... (retry detected, attempt N), 22 times."""
    return anomaly(
        **{
            "kind": "duplicate_spike",
            "fingerprint": "dup000slack",
            "count": 22,
            "template": "Duplicate Slack event <*> (retry detected, attempt <NUM>)",
            "logger": "app.slack",
            "severity": Severity.LOW,
            "samples": [
                "2026-11-21 18:24:54,563 - app.slack - WARNING - "
                "Duplicate Slack event Ev814282776 (retry detected, attempt 2)"
            ],
            **fields,
        }
    )


def mcp_error(**fields: Any) -> Anomaly:
    """MCP Tool failed: ConnectError (All connection attempts failed), no traceback."""
    return anomaly(
        **{
            "kind": "repeated_error",
            "fingerprint": "mcp000connect",
            "count": 9,
            "template": "MCP Tool failed: ConnectError (All connection attempts failed)",
            "logger": "app.mcp",
            "severity": Severity.MEDIUM,
            "samples": [
                "2026-11-21 18:24:54,559 - app.mcp - ERROR - "
                "MCP Tool failed: ConnectError (All connection attempts failed)"
            ],
            **fields,
        }
    )


def zero_division(**fields: Any) -> Anomaly:
    """ZeroDivisionError in average() (app.py:25), once."""
    return anomaly(
        **{
            "kind": "new_error",
            "fingerprint": "zero000average",
            "count": 1,
            "template": "ZeroDivisionError at /app/app.py:average",
            "severity": Severity.HIGH,
            "exception_type": "ZeroDivisionError",
            "exception_message": "division by zero",
            "frames": [
                FrameModel(file=LIB + "starlette/routing.py", line=289, function="handle"),
                FrameModel(file="/app/app.py", line=25, function="average"),
            ],
            **fields,
        }
    )


def json_error(**fields: Any) -> Anomaly:
    """json.decoder.JSONDecodeError in report() (app.py:75), 3 times."""
    return anomaly(
        **{
            "kind": "repeated_error",
            "fingerprint": "json000report",
            "count": 3,
            "template": "json.decoder.JSONDecodeError at /app/app.py:report",
            "exception_type": "json.decoder.JSONDecodeError",
            "exception_message": "Expecting value: line 1 column 1 (char 0)",
            "frames": [
                FrameModel(file="/app/app.py", line=75, function="report"),
                FrameModel(
                    file="/usr/local/lib/python3.11/json/__init__.py", line=346, function="loads"
                ),
                FrameModel(
                    file="/usr/local/lib/python3.11/json/decoder.py",
                    line=355,
                    function="raw_decode",
                ),
            ],
            **fields,
        }
    )
