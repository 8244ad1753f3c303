"""core.text: the one neutraliser for text from logs and LMs (terminal, commits, JSON)."""

from __future__ import annotations

import json
import unicodedata

import pytest

from core.text import json_text, one_line, printable
from tests.fakes.hostile import CORPUS, acting_characters


def test_every_acting_character_of_this_unicode_version_is_neutralised() -> None:
    """Checked against the running Python's Unicode database, not against our own list."""
    missed = [
        f"U+{code:04X} {unicodedata.category(chr(code))}"
        for code in range(0x110000)
        if acting_characters(chr(code)) and printable(chr(code)) == chr(code)
    ]
    assert missed == []


@pytest.mark.parametrize("injection", CORPUS, ids=lambda i: i.name)
def test_the_corpus_comes_out_inert_and_nothing_is_lost(injection) -> None:
    shown = printable(injection.text)
    assert acting_characters(shown) == []
    # Nothing deleted: every character that does not act is still there, in order.
    rest = iter(shown)
    assert all(ch in rest for ch in injection.text if not acting_characters(ch))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("\x1b[2J\x1b[H", "\\x1b[2J\\x1b[H"),
        ("\x1b]8;;http://evil\x07click", "\\x1b]8;;http://evil\\x07click"),
        ("ok\rFAKE", "ok\\x0dFAKE"),
        ("a\x00b", "a\\x00b"),
        ("\x9b31m", "\\x9b31m"),
        ("user\u202e nimda", "user\\u202e nimda"),
        ("tag\U000e0041", "tag\\U000e0041"),
        ("bad \udc80 byte", "bad \\udc80 byte"),
        ("line1\n\tline2", "line1\n\tline2"),
        ("café 日本 👩\u200d💻 नम\u200cस्ते", "café 日本 👩\u200d💻 नम\u200cस्ते"),
    ],
)
def test_printable_shows_escapes_and_keeps_text(raw: str, shown: str) -> None:
    assert printable(raw) == shown


def test_clean_text_is_returned_as_is() -> None:
    text = "2026-11-21 ERROR KeyError: 'ghost'\n  File \"app.py\", line 3"
    assert printable(text) is text


def test_one_line_flattens_so_a_value_cannot_pose_as_another_line() -> None:
    assert one_line("fine\nstatus:      applied\r\n\tx") == "fine status: applied\\x0d x"
    assert one_line("  a  ") == "a"
    assert one_line("abcdef", 4) == "abc…"
    assert one_line("\x1b" * 10, 6) == "\\x1b\\…"


@pytest.mark.parametrize("injection", CORPUS, ids=lambda i: i.name)
def test_json_text_is_valid_json_that_decodes_to_the_original(injection) -> None:
    obj = {"type": "proposal", "root_cause": injection.text, "édits": [injection.text]}
    dumped = json_text(obj)
    assert acting_characters(dumped) == []
    assert "\n" not in dumped
    assert json.loads(dumped) == obj


def test_json_text_keeps_readable_unicode() -> None:
    assert json_text({"m": "café 日本"}) == '{"m": "café 日本"}'
