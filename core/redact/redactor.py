"""Shared contracts (masking): secrets found in a text and replaced by stable placeholders.

:func:`find_secrets` runs every detector (:mod:`~core.redact.formats`,
:mod:`~core.redact.context`) over the text and over its decoded forms
(:mod:`~core.redact.encodings`: JSON escapes, URL encoding, base64 blobs), and merges what
they find: overlapping spans become one (an e-mail address yields to any other secret it
overlaps, so ``postgres://app:pw@db.example.com`` keeps its host); a span that touches a
placeholder already written is dropped, so masking twice changes nothing.

:class:`Redactor` writes ``<LABEL_n>`` for each span: the same secret (as written, or
decoded: ``sk_live_…`` and ``\\u0073k_live_…`` are one) gets the same placeholder within
one redactor, different secrets different ones, and numbering continues after the
placeholders a text already carries, so a root cause still reads ("token <SECRET_1> was
rejected twice"). No errors are raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from core.redact.context import find_emails, find_in_context
from core.redact.encodings import base64_blobs, canonical, views
from core.redact.finding import LABELS, Finding
from core.redact.formats import find_formats

_LABEL_GROUP = "|".join(LABELS)
#: Any placeholder a :class:`Redactor` writes, whatever its ``label_prefix``.
PLACEHOLDER = re.compile(rf"<(?:[A-Z]+_)*?(?:{_LABEL_GROUP})_\d+>")
_PARTS = re.compile(rf"<(?P<prefix>(?:[A-Z]+_)*?)(?P<label>{_LABEL_GROUP})_(?P<n>\d+)>")
#: A text shorter than this made only of word characters, dots, dashes and slashes holds
#: no secret any rule finds (each needs a separator, a quote, an ``@``, or 13 characters:
#: the shortest card number).
_SHORTEST_SECRET_TEXT = 13
_PLAIN_WORD = re.compile(r"[\w./-]*")
#: Decoded base64 blobs are scanned for secrets once more, this deep at most.
_MAX_DEPTH = 2


def find_secrets(text: str, *, source_code: bool = False) -> list[Finding]:
    """Every secret in ``text``: merged, sorted, non-overlapping spans.

    Args:
        text: any text.
        source_code: ``text`` is program code (see
            :func:`core.redact.context.find_in_context`).

    Returns:
        Findings ordered by ``start``; none overlaps another or an existing placeholder.
    """
    if len(text) < _SHORTEST_SECRET_TEXT and _PLAIN_WORD.fullmatch(text):
        return []  # a short name (a logger, a function, a frame's file): nothing fits in it
    return _merge(_find(text, 0, source_code), _placeholder_spans(text))


def _find(text: str, depth: int, source_code: bool = False) -> list[Finding]:
    found = list(_detect(text, source_code))
    for view in views(text):
        for finding in _detect(view.text, source_code):
            start, end = view.to_original(finding.start, finding.end)
            found.append(Finding(start, end, finding.label))
    if depth < _MAX_DEPTH:
        found.extend(_blobs(text, depth))
    return found


def _detect(text: str, source_code: bool) -> Iterator[Finding]:
    lowered = text.lower()
    yield from find_formats(text, lowered)
    yield from find_in_context(text, lowered, source_code=source_code)
    yield from find_emails(text)


def _blobs(text: str, depth: int) -> Iterator[Finding]:
    """A base64 blob whose decoded text holds a secret is one secret, with its label."""
    for start, end, decoded in base64_blobs(text):
        inner = _merge(_find(decoded, depth + 1), [])
        if inner:
            label = max(inner, key=lambda f: f.size).label
            yield Finding(start, end, label)


def _merge(findings: list[Finding], placeholders: list[tuple[int, int]]) -> list[Finding]:
    """Union of overlapping findings; e-mail addresses only where nothing else is."""
    others = sorted((f for f in findings if f.label != "EMAIL"), key=lambda f: f.start)
    merged: list[Finding] = []
    for finding in others:
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            label = last.label if last.size >= finding.size else finding.label
            merged[-1] = Finding(last.start, max(last.end, finding.end), label)
        else:
            merged.append(finding)
    emails = [f for f in findings if f.label == "EMAIL" and not _overlaps(f, merged)]
    result = sorted(merged + _dedupe(emails), key=lambda f: f.start)
    return [f for f in result if not any(s < f.end and f.start < e for s, e in placeholders)]


def _overlaps(finding: Finding, others: list[Finding]) -> bool:
    return any(o.start < finding.end and finding.start < o.end for o in others)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if not kept or finding.start >= kept[-1].end:
            kept.append(finding)
    return kept


def _placeholder_spans(text: str) -> list[tuple[int, int]]:
    if "<" not in text:
        return []
    return [m.span() for m in PLACEHOLDER.finditer(text)]


@dataclass
class Redactor:
    """Masks secrets with placeholders that stay the same for the same secret.

    Args:
        label_prefix: written before every label (``CODE_`` gives ``<CODE_SECRET_1>``),
            so that two redactors' placeholders can be told apart.
        source_code: the texts are program code: only string literals count as values
            of key/value pairs (see :func:`find_secrets`).

    Attributes:
        mapping: secret as written -> placeholder, filled as text is redacted (never
            log it).
    """

    mapping: dict[str, str] = field(default_factory=dict)
    label_prefix: str = ""
    source_code: bool = False
    _counts: dict[str, int] = field(default_factory=dict)
    _by_value: dict[str, str] = field(default_factory=dict)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``<LABEL_n>`` (e.g. ``<SECRET_1>``).

        Placeholders already in ``text`` stay, and new ones are numbered after them.
        """
        findings = find_secrets(text, source_code=self.source_code)
        if not findings:
            return text
        self.reserve(text)
        parts: list[str] = []
        position = 0
        for finding in findings:
            parts.append(text[position : finding.start])
            parts.append(self._placeholder(finding.label, text[finding.start : finding.end]))
            position = finding.end
        parts.append(text[position:])
        return "".join(parts)

    def redact_all(self, texts: Iterable[str]) -> list[str]:
        """Redact several texts with shared placeholders."""
        return [self.redact(text) for text in texts]

    def reserve(self, text: str) -> None:
        """Number new placeholders after those of this prefix already in ``text``."""
        if "<" not in text:
            return
        for match in _PARTS.finditer(text):
            if match.group("prefix") == self.label_prefix:
                label, number = match.group("label"), int(match.group("n"))
                self._counts[label] = max(self._counts.get(label, 0), number)

    def restore(self, text: str) -> str:
        """``text`` with this redactor's placeholders replaced by the secrets they stand for
        (as first written). Placeholders of other redactors are left as they are."""
        if not self.mapping:
            return text
        reverse: dict[str, str] = {}
        for secret, placeholder in self.mapping.items():
            reverse.setdefault(placeholder, secret)
        return PLACEHOLDER.sub(lambda m: reverse.get(m.group(0), m.group(0)), text)

    def _placeholder(self, label: str, secret: str) -> str:
        existing = self.mapping.get(secret)
        if existing is not None:
            return existing
        value = canonical(secret)
        placeholder = self._by_value.get(value)
        if placeholder is None:
            self._counts[label] = self._counts.get(label, 0) + 1
            placeholder = f"<{self.label_prefix}{label}_{self._counts[label]}>"
            self._by_value[value] = placeholder
        self.mapping[secret] = placeholder
        return placeholder


def scrub_secrets(text: str) -> str:
    """``text`` with secrets masked (one-shot; numbering continues after the placeholders
    already in ``text``, from 1 when there are none)."""
    return Redactor().redact(text)
