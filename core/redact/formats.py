"""Shared contracts (masking): credentials recognised by their format (prefix, length, shape).

Two sources, both maintained by people whose job is finding secrets:

* **detect-secrets** (Yelp): the plugins in :data:`DETECT_SECRETS_PLUGINS`, used through
  their public ``analyze_string`` (each yields the secret values its regexes find).
  ``Base64HighEntropyString``'s rule (a quoted base64-alphabet string above 4.5 bits per
  character) is applied by :mod:`core.redact.context` with :func:`entropy`, the same
  measure, because quotes occur in nearly every text and the import would never be saved.
  Left out, and why: ``KeywordDetector`` (0.6 million characters/s; the key/value rule in
  :mod:`core.redact.context` does its job), ``CloudantDetector``, ``IbmCloudIamDetector``,
  ``IbmCosHmacDetector`` and ``SoftlayerDetector`` (``key = value`` forms of that rule, at
  0.1 million characters/s), ``TelegramBotTokenDetector`` (no literal part to gate it;
  gitleaks' rule has one), ``PrivateKeyDetector`` (matches the
  ``BEGIN ... PRIVATE KEY`` words, not the key), ``BasicAuthDetector`` (greedy: also takes
  the host and path after a second ``@``), ``NpmDetector`` (takes the rest of the line),
  ``IPPublicDetector`` (IP addresses are not masked) and ``HexHighEntropyString`` (would
  mask quoted trace ids and commit hashes).
* **gitleaks**' rule set: the formats detect-secrets lacks, in
  :data:`core.redact.gitleaks.FORMATS`.

Each format carries keywords, as gitleaks' rules do: its regex runs only when one occurs
in the text (a keyword with an upper case letter as written, the others in the lowercased
text), so a text costs one substring search per format for most of them. detect-secrets
(0.1 to 0.2 s to import, with ``requests``) is imported only when one of its plugins has a
candidate to look at, so ordinary logs never import it. No errors are raised.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from core.redact.finding import Finding
from core.redact.gitleaks import FORMATS

#: A plugin runs only when its gate lets the text through: one of its keywords occurs (a
#: keyword with an upper case letter as written, the others in the lowercased text), or,
#: for a format without a literal part, a cheap regex finds a candidate.
Gate = tuple[str, ...] | re.Pattern[str]

#: detect-secrets plugins used: (module, class, gate).
DETECT_SECRETS_PLUGINS: tuple[tuple[str, str, Gate], ...] = (
    ("aws", "AWSKeyDetector", ("AKIA", "ASIA", "ABIA", "ACCA", "A3T", "aws")),
    ("artifactory", "ArtifactoryDetector", re.compile(r"(?:AKC|AP[\dA-F])[a-zA-Z0-9]{8,}")),
    ("azure_storage_key", "AzureStorageKeyDetector", ("accountkey",)),
    ("discord", "DiscordBotTokenDetector", re.compile(r"\.[\w-]{6}\.[\w-]{27}")),
    ("github_token", "GitHubTokenDetector", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    (
        "gitlab_token",
        "GitLabTokenDetector",
        (
            "glpat-",
            "gldt-",
            "glft-",
            "glsoat-",
            "glrt-",
            "glcbt-",
            "glimt-",
            "glptt-",
            "glagent-",
            "gloas-",
            "gr1348941",
        ),
    ),
    ("jwt", "JwtTokenDetector", ("eyJ",)),
    ("mailchimp", "MailchimpDetector", ("-us",)),
    ("openai", "OpenAIDetector", ("t3blbkfj",)),
    ("pypi_token", "PypiTokenDetector", ("pypi-",)),
    ("sendgrid", "SendGridDetector", ("SG.",)),
    ("slack", "SlackDetector", ("xox", "hooks.slack.com")),
    ("square_oauth", "SquareOAuthDetector", ("sq0csp-",)),
    ("stripe", "StripeDetector", ("k_live_",)),
    ("twilio", "TwilioKeyDetector", re.compile(r"(?:AC|SK)[a-z0-9]{32}")),
)

_EDGE = " \t\r\n\"'`"
#: Lowercase keyword -> positions in FORMATS of the formats it lets run.
_FORMATS_BY_KEYWORD: dict[str, tuple[int, ...]] = {
    keyword: tuple(i for i, f in enumerate(FORMATS) if keyword in {k.lower() for k in f.keywords})
    for keyword in {k.lower() for f in FORMATS for k in f.keywords}
}
#: Lowercase keyword -> positions in DETECT_SECRETS_PLUGINS; and the regex-gated ones.
_PLUGINS_BY_KEYWORD: dict[str, tuple[int, ...]] = {
    keyword: tuple(
        i
        for i, (*_, gate) in enumerate(DETECT_SECRETS_PLUGINS)
        if isinstance(gate, tuple) and keyword in {k.lower() for k in gate}
    )
    for *_, gate in DETECT_SECRETS_PLUGINS
    if isinstance(gate, tuple)
    for keyword in {k.lower() for k in gate}
}
_REGEX_GATED = {
    i for i, (*_, gate) in enumerate(DETECT_SECRETS_PLUGINS) if isinstance(gate, re.Pattern)
}
if not all(f.keywords for f in FORMATS):  # pragma: no cover - caught by any import
    raise TypeError("every format needs a keyword")
_ALL_KEYWORDS = tuple(
    sorted(
        {k.lower() for f in FORMATS for k in f.keywords}
        | {
            k.lower()
            for *_, gate in DETECT_SECRETS_PLUGINS
            if isinstance(gate, tuple)
            for k in gate
        }
    )
)
_ASSIGNED = re.compile(r"[A-Za-z_][\w.-]*\s*[=:]\s*")


def find_formats(text: str, lowered: str | None = None) -> Iterator[Finding]:
    """Every credential of a known format in ``text``.

    Args:
        text: any text.
        lowered: ``text.lower()`` when the caller has it already.

    Yields:
        Findings, in no particular order (they may overlap).
    """
    lowered = text.lower() if lowered is None else lowered
    found = {k for k in _ALL_KEYWORDS if k in lowered}
    candidates = sorted({i for k in found for i in _FORMATS_BY_KEYWORD.get(k, ())})
    for fmt in (FORMATS[i] for i in candidates):
        if _present(fmt.keywords, found, text):
            pattern = fmt.pattern
            group = "secret" if "secret" in pattern.groupindex else 0
            for match in pattern.finditer(text):
                start, end = match.span(group)
                if end > start:
                    yield Finding(start, end, fmt.label)
    wanted = {i for k in found for i in _PLUGINS_BY_KEYWORD.get(k, ())} | _REGEX_GATED
    plugins = [DETECT_SECRETS_PLUGINS[i] for i in sorted(wanted)]
    plugins = [(m, c, gate) for m, c, gate in plugins if _present(gate, found, text)]
    if plugins:  # detect-secrets is imported only when one of its plugins has work
        for plugin in _plugins(tuple(plugins)):
            for value in plugin.analyze_string(text):
                yield from _occurrences(text, value, plugin)


def _present(gate: Gate, found: set[str], text: str) -> bool:
    """Whether ``text`` passes a gate (``found``: the lowercase keywords in the lowered
    text; a keyword with an upper case letter must occur as written)."""
    if isinstance(gate, re.Pattern):
        return gate.search(text) is not None
    if not gate:
        return True
    return any(k.lower() in found and (k.islower() or k in text) for k in gate)


def entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character (0 to log2 of its length): the
    measure of detect-secrets' high-entropy plugins, computed here so that a text with no
    candidate never imports detect-secrets."""
    if not value:
        return 0.0
    length = len(value)
    return -sum(n / length * math.log2(n / length) for n in Counter(value).values())


def _occurrences(text: str, value: str, plugin: Any) -> Iterator[Finding]:
    """Where a value a plugin reported occurs, trimmed of quotes and of a ``key=``."""
    value = value.strip(_EDGE)
    assigned = _ASSIGNED.match(value)
    if assigned and assigned.end() < len(value):
        value = value[assigned.end() :]
    if len(value) < 8:
        return
    position = text.find(value)
    while position >= 0:
        yield Finding(position, position + len(value), "SECRET")
        position = text.find(value, position + len(value))


def _plugins(wanted: tuple[tuple[str, str, Gate], ...]) -> list[Any]:
    """The detect-secrets plugin instances for ``wanted`` entries of
    :data:`DETECT_SECRETS_PLUGINS` (imported and built on first use)."""
    return [_plugin(module, name) for module, name, _ in wanted]


@functools.cache
def _plugin(module_name: str, class_name: str) -> Any:
    import importlib

    module = importlib.import_module(f"detect_secrets.plugins.{module_name}")
    cls = getattr(module, class_name)
    return cls()
