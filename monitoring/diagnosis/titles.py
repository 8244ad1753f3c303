"""Diagnosis wording: the one-line title of a proposal (a message header)."""

from __future__ import annotations

from core.frames import app_frame
from core.models import Anomaly, Frame
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.context import CodeContext

_BY_KIND = {
    "truncation": msg.TITLE_TRUNCATION,
    "slow_operation": msg.TITLE_SLOW,
    "duplicate_spike": msg.TITLE_DUPLICATES,
}


def title_for(anomaly: Anomaly, context: CodeContext) -> str:
    """E.g. ``KeyError in orders()`` or ``Truncated output: LM response truncated (...)``.

    At most :data:`messages.TITLE_MAX_CHARS` characters; not yet masked for secrets.
    """
    if anomaly.exception_type:
        exception = anomaly.exception_type.rsplit(".", 1)[-1]
        function = context.frames[0].frame.function if context.frames else _app_function(anomaly)
        if function:
            title = msg.TITLE_EXCEPTION.format(exception=exception, function=function)
        else:
            title = msg.TITLE_EXCEPTION_NO_FRAME.format(
                exception=exception, message=(anomaly.exception_message or "").strip()
            )
    else:
        title = _BY_KIND.get(anomaly.kind, msg.TITLE_ERROR_LOG).format(template=anomaly.template)
    title = " ".join(title.split())
    if len(title) > msg.TITLE_MAX_CHARS:
        title = title[: msg.TITLE_MAX_CHARS - 1] + "…"
    return title


def _app_function(anomaly: Anomaly) -> str:
    """The innermost in-app frame's function (library frames skipped), or ""."""
    frame = app_frame([Frame(f.file, f.line, f.function) for f in anomaly.frames])
    return frame.function if frame else ""
