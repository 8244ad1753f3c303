"""Shared contracts (masking): one secret found in a text, as a span and a label.

Every detector (``formats``, ``context``, ``encodings``) yields :class:`Finding`s;
:mod:`core.redact.redactor` merges them and writes the placeholders. No errors are raised.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

#: Placeholder labels, most specific first: ``<KEY_1>`` a private key block, ``<JWT_1>`` a
#: JSON Web Token, ``<AWS_KEY_1>`` an AWS access key id, ``<PASSWORD_1>`` the password of
#: a URL, ``<CARD_1>`` a payment card number, ``<EMAIL_1>`` an e-mail address,
#: ``<SECRET_1>`` any other credential.
LABELS = ("KEY", "JWT", "AWS_KEY", "PASSWORD", "CARD", "EMAIL", "SECRET")


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret at ``text[start:end]`` (0-based, ``end`` exclusive) with its label."""

    start: int
    end: int
    label: str = "SECRET"

    @property
    def size(self) -> int:
        """Characters covered."""
        return self.end - self.start


def group_findings(
    pattern: re.Pattern[str], text: str, label: str, group: str | int = 0
) -> Iterator[Finding]:
    """One :class:`Finding` per match of ``pattern``: the span of ``group`` (0: the whole
    match; a group that did not take part yields nothing)."""
    for match in pattern.finditer(text):
        start, end = match.span(group)
        if end > start:
            yield Finding(start, end, label)
