"""UTF-16 and UTF-32 logs (with or without a BOM) and UTF-8 with a BOM are read as the text
they are: the same anomalies as the UTF-8 file, through the parser and the real command
line; a followed log file in a wide encoding is refused with a message, nothing consumed."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitoring.parsing.logfile import MAX_LINE_BYTES, read_records, sniff_encoding
from monitoring.sources import FileSource, LogSourceError
from tests.conftest import ROOT

EXCERPT = (ROOT / "tests" / "data" / "asgi_excerpt.log").read_text(encoding="utf-8")
NOW = datetime(2026, 11, 21, 2, 33, tzinfo=UTC)

ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8 BOM": lambda text: text.encode("utf-8-sig"),
    "utf-16 LE BOM": lambda text: b"\xff\xfe" + text.encode("utf-16-le"),
    "utf-16 BE BOM": lambda text: b"\xfe\xff" + text.encode("utf-16-be"),
    "utf-32 LE BOM": lambda text: b"\xff\xfe\x00\x00" + text.encode("utf-32-le"),
    "utf-32 BE BOM": lambda text: b"\x00\x00\xfe\xff" + text.encode("utf-32-be"),
    "utf-16 LE, no BOM": lambda text: text.encode("utf-16-le"),
    "utf-16 BE, no BOM": lambda text: text.encode("utf-16-be"),
    "utf-32 LE, no BOM": lambda text: text.encode("utf-32-le"),
    "utf-16 LE BOM, CRLF": lambda text: (
        b"\xff\xfe" + text.replace("\n", "\r\n").encode("utf-16-le")
    ),
}


def _records(path: Path) -> list[tuple[str, str, str]]:
    return [(r.level.value, r.logger or "", r.raw) for r in read_records(path, fallback_time=NOW)]


@pytest.mark.parametrize("encoding", list(ENCODINGS))
def test_every_encoding_reads_as_the_same_records(tmp_path: Path, encoding: str) -> None:
    expected = tmp_path / "utf8.log"
    expected.write_bytes(EXCERPT.encode("utf-8"))
    encoded = tmp_path / "encoded.log"
    encoded.write_bytes(ENCODINGS[encoding](EXCERPT))
    records = _records(encoded)
    assert records == _records(expected)
    assert len(records) == 66 and not any("\x00" in raw or "\ufeff" in raw for _, _, raw in records)


@pytest.mark.parametrize(
    ("head", "codec"),
    [
        (b"\xef\xbb\xbf2026", "utf-8-sig"),
        (b"\xff\xfe2\x000\x00", "utf-16"),
        (b"\xfe\xff\x002\x000", "utf-16"),
        (b"\xff\xfe\x00\x002\x00\x00\x00", "utf-32"),
        (b"\x00\x00\xfe\xff\x00\x00\x002", "utf-32"),
        ("2026-11-21 ERROR x".encode("utf-16-le"), "utf-16-le"),
        ("2026-11-21 ERROR x".encode("utf-16-be"), "utf-16-be"),
        ("2026-11-21 ERROR".encode("utf-32-le"), "utf-32-le"),
        ("2026-11-21 ERROR".encode("utf-32-be"), "utf-32-be"),
        (b"2026-11-21 02:33:00 ERROR plain utf-8 \xc3\xa9", None),
        ("日本語のログ行です。".encode("utf-16-le"), None),  # no NULs, no BOM: read as UTF-8
        (b"\x00" * 64, None),  # all NUL: no pattern, scanned as it is
        (b"ab", None),
        (b"", None),
    ],
)
def test_sniff_encoding(head: bytes, codec: str | None) -> None:
    assert sniff_encoding(head) == codec


def test_binary_garbage_is_still_scanned_as_it_is(tmp_path: Path) -> None:
    rng = random.Random(7)
    data = bytes(rng.randrange(256) for _ in range(20_000))
    path = tmp_path / "garbage.bin"
    path.write_bytes(data)
    assert sniff_encoding(data[:4096]) is None
    assert len(_records(path)) > 0  # kept as plain records, as before


def test_a_huge_utf16_line_is_cut_like_a_utf8_one(tmp_path: Path) -> None:
    text = "2026-11-21 02:33:00,000 - app - ERROR - " + "x" * 300_000 + "\nlast line\n"
    wide, narrow = tmp_path / "wide.log", tmp_path / "narrow.log"
    wide.write_bytes(text.encode("utf-16"))
    narrow.write_bytes(text.encode("utf-8"))
    read_wide = list(read_records(wide, fallback_time=NOW))
    read_narrow = list(read_records(narrow, fallback_time=NOW))
    assert [len(r.raw) for r in read_wide] == [len(r.raw) for r in read_narrow]
    assert len(read_wide[0].raw) <= MAX_LINE_BYTES
    assert (
        read_wide[0].attributes["truncated_bytes"] == read_narrow[0].attributes["truncated_bytes"]
    )
    assert read_wide[-1].raw == "last line"


def test_an_odd_byte_at_the_end_of_utf16_is_a_replacement_not_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.log"
    path.write_bytes(("2026-11-21 02:33:00,000 - app - ERROR - boom\n").encode("utf-16") + b"\x41")
    raws = [r.raw for r in read_records(path, fallback_time=NOW)]
    assert raws[0].endswith("boom") and raws[-1] == "\ufffd"


def _scan_json(tmp_path: Path, *argv: str, stdin: bytes | None = None) -> list[dict]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MENDBOT_", "DATABASE_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'scan.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "scan", *argv, "--json", "--no-diagnose"],
        input=stdin,
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def _shape(objects: list[dict]) -> list[tuple]:
    return sorted((o["kind"], o["fingerprint"], o["count"]) for o in objects)


def test_scan_of_a_utf16_file_and_of_utf16_stdin_finds_what_utf8_does(tmp_path: Path) -> None:
    utf8 = tmp_path / "utf8.log"
    utf8.write_bytes(EXCERPT.encode("utf-8"))
    wide = tmp_path / "utf16.log"
    wide.write_bytes(EXCERPT.encode("utf-16"))
    expected = _shape(_scan_json(tmp_path, str(utf8)))
    assert len(expected) == 7
    assert _shape(_scan_json(tmp_path, str(wide))) == expected
    assert _shape(_scan_json(tmp_path, "-", stdin=EXCERPT.encode("utf-16"))) == expected


def test_a_followed_utf16_file_is_refused_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "service.log"
    path.write_bytes(EXCERPT.encode("utf-16"))
    source = FileSource(path=path)
    with pytest.raises(LogSourceError, match=r"UTF-16-encoded.*must be UTF-8.*iconv -f UTF-16"):
        source.fetch(None, now=NOW)
    path.write_bytes(EXCERPT.encode("utf-8-sig"))  # a UTF-8 BOM is fine: read, mark dropped
    batch = source.fetch(None, now=NOW)
    assert len(batch.records) == 66 and not batch.records[0].raw.startswith("\ufeff")
