"""Diagnosis with the LM: DSPy adapters that recover what a model meant from a near miss.

The subclasses of DSPy's :class:`dspy.ChatAdapter` and :class:`dspy.JSONAdapter` here
keep DSPy's prompts and read each field with DSPy's ``parse_value`` (a Markdown list of
components, a Markdown severity or risk level, a confidence written as ``85%`` and a
missing ``regression_test`` or ``reasoning`` are read too), except the edits: those are
read by :func:`monitoring.diagnosis.coerce.read_edits` first (strict JSON, a Python repr,
else cut at the known keys), because ``json_repair``, which DSPy's parse falls back to, ends a JSON
string at the first unescaped quote inside the code and returns a shortened ``new_text``
that still validates. An answer that reads neither way goes to DSPy's own ``parse``; what
that refuses raises ``AdapterParseError``, whose message the program quotes in its retry.

``MENDBOT_LM_ADAPTER`` chooses (see :func:`build_adapter`):

- ``chat`` (default): the ChatAdapter's ``[[ ## field ## ]]`` sections, with DSPy's
  fallback to the JSON adapter after an answer that does not parse (one more request);
- ``json``: the JSON adapter only, asking the server for ``response_format:
  {"type": "json_object"}`` when DSPy does not know the model's structured-output support
  (servers that constrain decoding to it, such as llama.cpp, then write valid JSON only;
  a server that refuses the parameter fails the request).
"""

from __future__ import annotations

import re
from typing import Any, Literal, get_args, get_origin

import dspy
from dspy.adapters.chat_adapter import field_header_pattern
from dspy.adapters.utils import parse_value

from monitoring.diagnosis.coerce import (
    anchored_edits,
    read_bullets,
    read_edits,
    strict,
    unfence,
)

AdapterName = Literal["chat", "json"]
#: Output fields an answer may leave out (read as "").
OPTIONAL_FIELDS = frozenset({"regression_test", "reasoning"})
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def build_adapter(name: AdapterName) -> dspy.Adapter:
    """The adapter ``MENDBOT_LM_ADAPTER`` names (``chat`` or ``json``, see the module)."""
    if name == "json":
        return TolerantJSONAdapter(ask_json_object=True)
    return TolerantChatAdapter()


class TolerantChatAdapter(dspy.ChatAdapter):
    """The ChatAdapter, reading fields tolerantly when its strict parse fails; its JSON
    fallback is a :class:`TolerantJSONAdapter`."""

    def _make_json_adapter_fallback(self) -> dspy.Adapter:
        return TolerantJSONAdapter(ask_json_object=False)

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        fields = read_fields(signature, chat_sections(completion))
        return fields if fields is not None else super().parse(signature, completion)


class TolerantJSONAdapter(dspy.JSONAdapter):
    """The JSONAdapter, reading fields tolerantly when its strict parse fails.

    Args:
        ask_json_object: send ``response_format: {"type": "json_object"}`` when DSPy would
            send no response format (a model it does not know).
    """

    def __init__(self, *, ask_json_object: bool) -> None:
        super().__init__(use_native_function_calling=False)
        self.ask_json_object = ask_json_object

    def _prepare_response_format(
        self, lm: Any, lm_kwargs: dict[str, Any], signature: type[dspy.Signature]
    ) -> None:
        super()._prepare_response_format(lm, lm_kwargs, signature)
        if self.ask_json_object and "response_format" not in lm_kwargs:
            lm_kwargs["response_format"] = {"type": "json_object"}

    def parse(self, signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
        fields = read_fields(signature, json_sections(signature, completion))
        return fields if fields is not None else super().parse(signature, completion)


def chat_sections(completion: str) -> dict[str, str]:
    """Field name -> text under its ``[[ ## name ## ]]`` header (the first occurrence)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in completion.splitlines():
        match = field_header_pattern.match(line.strip())
        if match:
            name = match.group(1)
            current = None if name in sections else sections.setdefault(name, [])
            rest = line.strip()[match.end() :].strip()
            if current is not None and rest:
                current.append(rest)
        elif current is not None:
            current.append(line)
    return {name: "\n".join(lines).strip() for name, lines in sections.items()}


def json_sections(signature: type[dspy.Signature], completion: str) -> dict[str, Any]:
    """Field name -> value of a JSON answer; when it is not strict JSON (or a Python
    literal), the other fields as ``json_repair`` reads them and the edits cut at their keys."""
    import json_repair

    text = unfence(completion.strip())
    whole = strict(text)
    if isinstance(whole, dict):
        return whole
    repaired = json_repair.loads(text)
    fields = dict(repaired) if isinstance(repaired, dict) else {}
    if "edits" in signature.output_fields:
        edits = anchored_edits(text)
        if edits or "edits" not in fields:
            fields["edits"] = edits
    return fields


def read_fields(signature: type[dspy.Signature], sections: dict[str, Any]) -> dict[str, Any] | None:
    """Every output field of ``signature`` read from ``sections``, or None when one cannot be."""
    fields: dict[str, Any] = {}
    for name, info in signature.output_fields.items():
        if name not in sections:
            if name in OPTIONAL_FIELDS:
                fields[name] = ""
                continue
            return None
        try:
            fields[name] = read_value(sections[name], info.annotation)
        except (ValueError, TypeError):
            return None
    return fields


def read_value(value: Any, annotation: Any) -> Any:
    """``value`` as ``annotation``: the edits by :func:`read_edits` and a list of strings
    written as a Markdown list by :func:`read_bullets` first, then DSPy's reading, then
    ours (Literals in Markdown, numbers in prose).

    Raises:
        ValueError: it cannot be read as ``annotation`` either way.
    """
    if annotation == list[str] and isinstance(value, str):
        bullets = read_bullets(value)
        if bullets is not None and strict(value) is None:
            return bullets
    elif get_origin(annotation) is list and isinstance(value, str):
        edits = read_edits(value)
        if edits is not None:
            return parse_value(edits, annotation)
    try:
        return parse_value(value, annotation)
    except (ValueError, TypeError):
        pass
    if get_origin(annotation) is Literal and isinstance(value, str):
        cleaned = value.strip(" \n*_`'\".:").upper()
        if cleaned in get_args(annotation):
            return cleaned
    if annotation is float and isinstance(value, str):
        match = _NUMBER.search(value)
        if match:
            number = float(match.group(0))
            return number / 100 if "%" in value and number > 1 else number
    raise ValueError(f"cannot read {str(value)[:80]!r} as {annotation}")
