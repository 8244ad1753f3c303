"""Diagnosis wording: the one-line title of a proposal (a message header).

A title reads like a person wrote it: the remedy's own sentence when a playbook proposes
an edit (``Raise MAX_TOKENS 3000 → 10000: LM response truncated 11 times``), else the
exception and its function (``KeyError in orders()``), else the kind and the message with
its placeholders taken out (:func:`humanize`: never ``<NUM>`` or ``<ID>``).
"""

from __future__ import annotations

import re

from core.frames import app_frame
from core.models import Anomaly, Frame
from monitoring.diagnosis import messages as msg
from monitoring.diagnosis.context import CodeContext
from monitoring.diagnosis.emitters import PLACEHOLDER

_BY_KIND = {
    "truncation": msg.TITLE_TRUNCATION,
    "slow_operation": msg.TITLE_SLOW,
    "duplicate_spike": msg.TITLE_DUPLICATES,
}
_LEADING_BRACKETS = re.compile(r"^(?:\[[^\]]*\]\s*)+")
_KEY_VALUE = re.compile(rf"(?:[\w.-]+\s*=|[\w.-]*_[\w.-]*:)\s*(?:{PLACEHOLDER.pattern})\w*")
_VALUE = re.compile(rf"(?:{PLACEHOLDER.pattern})\w*")
_EMPTY_GROUP = re.compile(r"[(\[{]\s*(?:[,;:]\s*)*[)\]}]")
_SPACE_BEFORE = re.compile(r"\s+([,;:.)\]}])")
_DOUBLE_PUNCT = re.compile(r"([,;:])(?:\s*[,;:])+")
_PUNCT_BEFORE_CLOSE = re.compile(r"[,;:]\s*([)\]}])")


def title_for(anomaly: Anomaly, context: CodeContext, worded: str = "") -> str:
    """The proposal's title, at most :data:`messages.TITLE_MAX_CHARS` characters.

    Args:
        anomaly: what was seen.
        context: the code it points at (for the raising function).
        worded: the diagnosis's own title, used when given.

    Returns:
        One line, not yet masked for secrets.
    """
    if worded:
        title = worded
    elif anomaly.exception_type:
        exception = anomaly.exception_type.rsplit(".", 1)[-1]
        function = context.frames[0].frame.function if context.frames else _app_function(anomaly)
        if function:
            title = msg.TITLE_EXCEPTION.format(exception=exception, function=function)
        else:
            title = msg.TITLE_EXCEPTION_NO_FRAME.format(
                exception=exception, message=(anomaly.exception_message or "").strip()
            )
    else:
        template = _BY_KIND.get(anomaly.kind, msg.TITLE_ERROR_LOG)
        title = template.format(template=humanize(anomaly.template))
    title = " ".join(title.split())
    if len(title) > msg.TITLE_MAX_CHARS:
        title = title[: msg.TITLE_MAX_CHARS - 1] + "…"
    return title


def humanize(template: str) -> str:
    """A message template as words: ``[app] LM response truncated (max_tokens=<NUM>)`` ->
    ``LM response truncated``; a value in the middle of a sentence becomes ``…``."""
    text = _LEADING_BRACKETS.sub("", template)
    text = _KEY_VALUE.sub("", text)
    text = _VALUE.sub("…", text)
    for _ in range(3):
        text = _EMPTY_GROUP.sub("", text)
        text = _SPACE_BEFORE.sub(r"\1", text)
        text = _DOUBLE_PUNCT.sub(lambda m: m.group(0)[-1], text)
        text = _PUNCT_BEFORE_CLOSE.sub(r"\1", text)
    text = " ".join(text.split()).strip(" ,;:")
    return text or template


def _app_function(anomaly: Anomaly) -> str:
    """The innermost in-app frame's function (library frames skipped), or ""."""
    frame = app_frame([Frame(f.file, f.line, f.function) for f in anomaly.frames])
    return frame.function if frame else ""
