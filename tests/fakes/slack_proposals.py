"""Test support: fix proposals to post in Slack tests, as the monitor would build them.

:func:`make_proposal` builds an unstored ``FixProposal`` whose edit applies to
:data:`ORDERS_PY` (commit that file with ``tests.fakes.git.make_repo`` to implement it),
with the evidence diagnosis would store: the traceback frame ``orders.py:5 in get_order``.
"""

from __future__ import annotations

from typing import Any

ORDERS_PY = '''"""Orders handler of the sample service."""


def get_order(orders, order_id):
    order = orders[order_id]
    return {"id": order_id, "total": order["total"]}
'''
ORDERS_OLD = "order = orders[order_id]\n"
ORDERS_NEW = (
    "order = orders.get(order_id)\n"
    "    if order is None:\n"
    '        return {"id": order_id, "error": "not found"}\n'
)
SAMPLE_TRACEBACK = """ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/app/orders.py", line 5, in get_order
    order = orders[order_id]
KeyError: 'ord_42\'"""


def make_proposal(
    *,
    created_at: Any = None,
    edits: list[Any] | None = None,
    sample: str = SAMPLE_TRACEBACK,
    fingerprint: str = "f00dfeed" * 4,
    **overrides: Any,
) -> Any:
    """A ``FixProposal`` for ``orders.py`` (see :data:`ORDERS_PY`), not stored yet."""
    from datetime import UTC, datetime, timedelta

    from core.evidence import locate
    from core.models import Anomaly, Diagnosis, FrameModel, Severity
    from core.proposals import Edit, FixProposal, Risk

    now = created_at or datetime.now(UTC)
    anomaly = Anomaly(
        kind="repeated_error",
        fingerprint=fingerprint,
        template="KeyError at orders.py:get_order",
        count=19,
        first_seen=now - timedelta(minutes=42),
        last_seen=now,
        severity=Severity.HIGH,
        samples=[sample],
        exception_type="KeyError",
        exception_message="'ord_42'",
        frames=[FrameModel(file="/app/orders.py", line=5, function="get_order")],
        logger="uvicorn.error",
        summary="KeyError in get_order (orders.py:5), 19 times",
    )
    diagnosis = Diagnosis(
        root_cause="get_order indexes the orders dict with an id that may be unknown.",
        severity_assessment=Severity.HIGH,
        affected_components=["orders.py:get_order"],
        confidence=0.8,
    )
    fields: dict[str, Any] = {
        "fingerprint": fingerprint,
        "anomaly": anomaly,
        "diagnosis": diagnosis,
        "title": "KeyError in get_order()",
        "reasoning": "Return a 'not found' answer instead of raising for unknown ids.",
        "evidence": [
            locate(
                ORDERS_PY,
                path="orders.py",
                line=5,
                kind="frame",
                detail="/app/orders.py",
                function="get_order",
            )
        ],
        "risk": Risk.LOW,
        "risk_notes": "Callers see an error field instead of a 500.",
        "created_at": now,
        "edits": edits
        if edits is not None
        else [Edit(path="orders.py", old_text=ORDERS_OLD, new_text=ORDERS_NEW)],
    }
    fields.update(overrides)
    return FixProposal(**fields)
