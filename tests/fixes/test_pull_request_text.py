"""The pull request's title and body: hostile text from logs and the LM is quoted, never
acted on (no links, images, HTML, mentions, closing keywords), and stays in GitHub's limits.

The body is parsed with markdown-it (CommonMark, as GitHub's renderer is) to check where
each piece of untrusted text ends up.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markdown_it.token import Token

from core.proposals import Edit
from fixes.apply.pull_request_text import (
    BODY_MAX_CHARS,
    TITLE_MAX_CHARS,
    pull_request_body,
    pull_request_title,
)
from tests.fakes.proposals import KEYERROR_FIX, make_proposal

SHA = "3" * 40
EVIL = (
    "Fixes #1 and closes acme/orders#2, resolves https://github.com/acme/orders/issues/3. "
    "cc @acme/oncall @alice\n```\n</details><img src=x onerror=alert(1)>\n"
    "![pixel](http://evil.example/p.png) [click](http://evil.example/login) "
    "<script>steal()</script>\n```` ghp_abcdefghijklmnopqrstuvwxyz0123456789 end"
)
#: GitHub's closing-keyword grammar: keyword, optional colon, space, an issue reference.
CLOSES = re.compile(
    r"(?i)\b(close[sd]?|fix(e[sd])?|resolve[sd]?):?\s+([\w.-]+/[\w.-]+)?(#\d|https?://)"
)
MENTION = re.compile(r"(?<![\w`])@[A-Za-z0-9]")


def _hostile_proposal():
    proposal = make_proposal(root_cause=EVIL, title=EVIL)
    proposal.id = "fix_20261121_023300"
    proposal.reasoning = EVIL
    proposal.risk_notes = EVIL
    proposal.anomaly.summary = EVIL
    proposal.anomaly.samples = ["old sample", "``````\n" + EVIL + "\n``````"]
    return proposal


def _tokens(body: str) -> list[Token]:
    flat: list[Token] = []
    for token in MarkdownIt("commonmark").parse(body):
        flat.append(token)
        flat.extend(token.children or [])
    return flat


def test_hostile_text_is_only_ever_inside_code_blocks() -> None:
    body = pull_request_body(_hostile_proposal(), approved_by="U0ALICE", commit_sha=SHA)

    tokens = _tokens(body)
    kinds = {t.type for t in tokens}
    assert not kinds & {"html_block", "html_inline", "image", "link_open"}
    fences = [t.content for t in tokens if t.type == "fence"]
    outside = [t.content for t in tokens if t.type not in ("fence", "code_inline")]
    assert sum("evil.example" in f for f in fences) >= 5  # summary, sample, cause, why, risk
    assert not any("evil.example" in text or "<script>" in text for text in outside)


def test_no_closing_keyword_mention_or_secret_survives() -> None:
    proposal = _hostile_proposal()
    body = pull_request_body(proposal, approved_by="U0ALICE", commit_sha=SHA)
    title = pull_request_title(proposal, approved_by="U0ALICE")

    for text in (body, title):
        assert not CLOSES.search(text), CLOSES.search(text)
        assert not MENTION.search(text), MENTION.search(text)
        assert "ghp_abcdefghijklmnopqrstuvwxyz0123456789" not in text
    assert "F\u200bixes #\u200b1" in body  # still readable, only defused


def test_title_is_one_line_within_githubs_limit() -> None:
    proposal = _hostile_proposal()
    title = pull_request_title(proposal, approved_by="U0ALICE")

    assert "\n" not in title and len(title) <= TITLE_MAX_CHARS
    assert title.startswith("Auto-fix: ")
    assert pull_request_title(make_proposal(), approved_by="U0ALICE") == (
        "Auto-fix: KeyError in orders()"
    )


def test_backtick_runs_cannot_close_the_fence_early() -> None:
    proposal = make_proposal()
    proposal.anomaly.samples = ["before\n```````\ninside\n````\n`` after"]
    body = pull_request_body(proposal, approved_by="U0ALICE", commit_sha=SHA)

    [sample] = [t for t in _tokens(body) if t.type == "fence" and "inside" in t.content]
    assert sample.content.strip() == "before\n```````\ninside\n````\n`` after"


def test_huge_input_stays_under_githubs_body_limit() -> None:
    proposal = make_proposal(root_cause="x" * 200_000)
    proposal.reasoning = "y" * 200_000
    proposal.anomaly.samples = ["z" * 200_000]

    body = pull_request_body(proposal, approved_by="cli:" + "a" * 5000, commit_sha=SHA)

    assert len(body) <= BODY_MAX_CHARS < 65536


def test_the_change_is_summarised_per_file() -> None:
    extra = Edit(path="lib/util.py", old_text="a\nb\n", new_text="a\n")
    proposal = make_proposal(
        edits=[KEYERROR_FIX, extra, Edit(path="app.py", old_text="q", new_text="r")]
    )

    body = pull_request_body(proposal, approved_by="cli:ops", commit_sha=SHA)

    assert "app.py | +4 -2 (2 edits)" in body
    assert "lib/util.py | +0 -1 (1 edit)" in body
    assert "` cli:ops `" in body and SHA[:12] in body
