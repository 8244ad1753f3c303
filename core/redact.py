"""Shared contracts: mask secrets in untrusted text before an LLM, Slack or a log sees it.

A leaf module (standard library only) so that every stage may use it: diagnosis masks log
samples and code context before they reach the LM; the implementor scrubs tokens from git
and validation output before it reaches Slack.

:class:`Redactor` replaces each secret with a stable placeholder: the same secret gets the
same placeholder within one redactor (``<SECRET_1>``, ``<EMAIL_2>``...), so the LM can still
see that two lines carry the same token without ever seeing it. :func:`scrub_secrets` is the
one-shot form. A ``label_prefix`` keeps two redactors' placeholders apart (diagnosis masks
code with ``CODE_`` so that :meth:`Redactor.restore` can put a masked line of code back
into an edit's ``old_text`` without ever restoring a secret that came from a log).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Order matters: longer, more specific shapes first so their parts are not half-masked.
# A pattern with a ``secret`` group masks only that group and keeps ``keep`` before it.
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Private key blocks (PEM).
    (
        "KEY",
        re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"),
    ),
    # JSON Web Tokens: three base64url parts, the first two starting with '{"' = eyJ.
    ("JWT", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}")),
    # Authorization headers: Bearer/Basic/Token credentials.
    (
        "SECRET",
        re.compile(r"(?i)(?P<keep>\b(?:bearer|basic|token) +)(?P<secret>[A-Za-z0-9._~+/=-]{8,})"),
    ),
    # Slack tokens (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xapp-), OpenAI/Anthropic-style sk-.
    ("SECRET", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{8,}|\bxapp-[A-Za-z0-9-]{8,}")),
    ("SECRET", re.compile(r"\bsk-(?:[A-Za-z0-9_-]{2,}-)?[A-Za-z0-9_-]{16,}")),
    # GitHub, GitLab, npm, PyPI, Railway-style prefixed tokens.
    (
        "SECRET",
        re.compile(
            r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|glpat-[A-Za-z0-9_-]{16,}"
            r"|npm_[A-Za-z0-9]{30,}|pypi-[A-Za-z0-9_-]{30,})"
        ),
    ),
    # AWS access key ids, and secret keys given as aws_secret_access_key=...
    ("AWS_KEY", re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[A-Z0-9]{16}\b")),
    # Credentials inside URLs and connection strings: scheme://user:password@host
    ("PASSWORD", re.compile(r"(?P<keep>://[^/\s:@]*:)(?P<secret>[^@\s/]+)(?=@)")),
    # key=value / key: value / "key": "value" for secret-looking keys.
    (
        "SECRET",
        re.compile(
            r"(?i)(?P<keep>(?<![A-Za-z0-9])(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|"
            r"access[_-]?key|auth|client[_-]?secret|aws_secret_access_key|private[_-]?key)"
            r"[\"']?\s*[:=]\s*[\"']?)(?P<secret>[^\s\"'&,;<>]{3,})"
        ),
    ),
    # E-mail addresses.
    ("EMAIL", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
)


#: Any placeholder a :class:`Redactor` writes, whatever its ``label_prefix``.
PLACEHOLDER = re.compile(r"<(?:[A-Z]+_)*(?:KEY|JWT|SECRET|AWS_KEY|PASSWORD|EMAIL)_\d+>")


@dataclass
class Redactor:
    """Masks secrets with placeholders that stay the same for the same secret.

    Attributes:
        mapping: secret -> placeholder, filled as text is redacted (never log it).
    """

    mapping: dict[str, str] = field(default_factory=dict)
    label_prefix: str = ""
    _counts: dict[str, int] = field(default_factory=dict)

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced by ``<LABEL_n>`` (e.g. ``<SECRET_1>``)."""
        for label, pattern in _PATTERNS:
            text = pattern.sub(functools.partial(self._replace, label), text)
        return text

    def redact_all(self, texts: Iterable[str]) -> list[str]:
        """Redact several texts with shared placeholders."""
        return [self.redact(text) for text in texts]

    def restore(self, text: str) -> str:
        """``text`` with this redactor's placeholders replaced by the secrets they stand for.

        Placeholders of other redactors (another ``label_prefix``) are left as they are.
        """
        if not self.mapping:
            return text
        reverse = {placeholder: secret for secret, placeholder in self.mapping.items()}
        return PLACEHOLDER.sub(lambda m: reverse.get(m.group(0), m.group(0)), text)

    def _replace(self, label: str, match: re.Match[str]) -> str:
        groups = match.groupdict()
        if "secret" not in groups:
            return self._placeholder(label, match.group(0))
        return (groups.get("keep") or "") + self._placeholder(label, groups["secret"])

    def _placeholder(self, label: str, secret: str) -> str:
        if secret.startswith("<") and secret.endswith(">"):
            return secret  # already a placeholder
        existing = self.mapping.get(secret)
        if existing is not None:
            return existing
        self._counts[label] = self._counts.get(label, 0) + 1
        placeholder = f"<{self.label_prefix}{label}_{self._counts[label]}>"
        self.mapping[secret] = placeholder
        return placeholder


def scrub_secrets(text: str) -> str:
    """``text`` with secrets masked (one-shot; placeholders numbered from 1)."""
    return Redactor().redact(text)
