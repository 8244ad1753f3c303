"""Every secret format of the corpus is masked, however a log wraps it.

The corpus (``tests/fakes/secrets_corpus.py``) holds real-world formats with fake values.
Each message is masked as written, and again after the wrappings an attacker (or an
ordinary library) puts around it: a JSON log line, a JSON string inside a JSON string, a
URL-encoded query parameter, a base64 blob, a Python repr, a traceback's exception line,
the end of a sentence. A leak is any needle (the secret, or how the wrapper writes it)
left in the masked text.
"""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Callable

import pytest

from core.redact import PLACEHOLDER, Redactor, find_secrets, scrub_secrets
from tests.fakes.secrets_corpus import CORPUS, Planted

Wrap = Callable[[str], str]

#: name -> (wrap the message, write a needle the way the wrapper writes it)
WRAPPINGS: dict[str, tuple[Wrap, Wrap]] = {
    "as written": (lambda m: m, lambda n: n),
    "JSON log line": (
        lambda m: json.dumps({"level": "error", "message": m}),
        lambda n: json.dumps(n)[1:-1],
    ),
    "JSON inside JSON": (
        lambda m: json.dumps({"body": json.dumps({"error": m})}),
        lambda n: json.dumps(json.dumps(n)[1:-1])[1:-1],
    ),
    "URL-encoded parameter": (
        lambda m: "GET /report?q=" + urllib.parse.quote(m, safe="") + "&page=2 400",
        lambda n: urllib.parse.quote(n, safe=""),
    ),
    "base64 blob": (
        lambda m: "context=" + base64.b64encode(m.encode()).decode() + " dropped",
        lambda n: base64.b64encode(n.encode()).decode(),
    ),
    "Python repr in a dict": (
        lambda m: f"event={ {'detail': m, 'attempt': 2}!r}",
        lambda n: repr(n)[1:-1],
    ),
    "traceback's exception line": (
        lambda m: (
            "Traceback (most recent call last):\n"
            '  File "/app/app.py", line 9, in handler\n    raise RuntimeError(msg)\n'
            f"RuntimeError: {m}"
        ),
        lambda n: n,
    ),
    "end of a sentence": (lambda m: f"{m}.\n", lambda n: n),
}


def _leaks(entry: Planted, masked: str, encode: Wrap) -> list[str]:
    return [
        form
        for needle in entry.forms()
        for form in {needle, encode(needle)}
        if len(form) >= 8 and form in masked
    ]


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.name)
@pytest.mark.parametrize("wrapping", list(WRAPPINGS))
def test_each_format_is_masked_however_it_is_wrapped(entry: Planted, wrapping: str) -> None:
    wrap, encode = WRAPPINGS[wrapping]
    text = wrap(entry.message)
    planted = any(n in text or encode(n) in text for n in entry.forms())
    assert planted or wrapping == "base64 blob"  # the test can fail: the secret is there

    masked = scrub_secrets(text)

    assert _leaks(entry, masked, encode) == []
    assert PLACEHOLDER.search(masked), masked


def test_the_corpus_covers_forty_formats_or_more() -> None:
    assert len(CORPUS) >= 40
    assert len({entry.name for entry in CORPUS}) == len(CORPUS)
    assert sum(entry.multiline for entry in CORPUS) >= 3


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.name)
def test_masking_twice_changes_nothing(entry: Planted) -> None:
    once = scrub_secrets(entry.message)
    assert scrub_secrets(once) == once
    assert find_secrets(once) == []


def test_one_redactor_gives_each_secret_one_placeholder_across_the_corpus() -> None:
    redactor = Redactor()
    first = redactor.redact_all(entry.message for entry in CORPUS)
    second = redactor.redact_all(entry.message for entry in CORPUS)
    assert first == second
    placeholders = {p for text in first for p in PLACEHOLDER.findall(text)}
    secrets = {entry.secret for entry in CORPUS}
    assert len(placeholders) >= len(secrets) - 5  # a few messages carry two secrets in one span
