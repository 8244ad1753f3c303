"""End to end, delivery by pull request: mendbot's pieces as ``mendbot run`` composes them
(SlackNotifier -> build_runtime -> build_monitor -> SlackBot -> HTTP server) against a fake
Slack, a fake GitHub and a real bare remote whose ``main`` refuses pushes (protected).

The story: a proposal is posted; an approver's signed mention ``implement fix_ID`` gets the
validated fix onto ``mendbot/<id>`` and a pull request opened, linked in the thread; a cycle
while it is open changes nothing; a reviewer merges it on GitHub (a real merge commit on
``main``); the next cycle records the proposal ``applied`` with that merge commit and calls
``on_delivered``, where deploy tracking plugs in. A second fix's pull request is closed
without merging: the next cycle rejects it ("pull request closed") and leaves its branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.http_server import HttpServer, serve_http
from bot.slack.app import SlackBot
from bot.slack.config import configured_notifier, slack_config
from bot.slack.notifier import parse_thread_ref
from core.proposals import Edit, FixProposal, ProposalStatus
from monitoring.monitor import ProactiveMonitor
from monitoring.runtime import Runtime, build_monitor, build_runtime
from tests.fakes.git import RepoPair, git, make_repo, protect_branch
from tests.fakes.github import TOKEN, FakeGitHub
from tests.fakes.proposals import frame_evidence
from tests.fakes.slack import (
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    SlackCall,
    SlackSender,
    mention_envelope,
)
from tests.fakes.slack_proposals import ORDERS_NEW, ORDERS_OLD, ORDERS_PY, make_proposal

pytestmark = pytest.mark.timeout(120)

ALICE = "U0ALICE"
DOCSTRING = '"""Orders handler of the sample service."""'


@dataclass
class Harness:
    slack: FakeSlack
    github: FakeGitHub
    repo: RepoPair
    runtime: Runtime
    monitor: ProactiveMonitor
    bot: SlackBot
    sender: SlackSender
    delivered: list[tuple[str, ProposalStatus, str]] = field(default_factory=list)

    def post(self, proposal: FixProposal) -> tuple[FixProposal, str, str]:
        """Store and post a proposal as a cycle does; returns it, its channel and ts."""
        stored = self.runtime.store.add(proposal)
        ref = self.bot.notifier.post_proposal(stored)
        self.runtime.store.set_thread_ref(stored.id, ref)
        channel, ts = parse_thread_ref(ref)  # type: ignore[misc]
        return self.runtime.store.get(stored.id), channel, ts

    def approve(self, proposal_id: str, channel: str, ts: str) -> SlackCall:
        """Alice's signed mention; returns the thread reply that links the pull request."""
        response = self.sender.event(mention_envelope(f"implement {proposal_id}", user=ALICE))
        assert response.status_code == 200
        opened = self.wait_thread(ts, "pull request <https://github.com/")
        assert self.bot.wait_idle(timeout=30)
        return opened

    def wait_thread(self, ts: str, fragment: str) -> SlackCall:
        return self.slack.wait_for(
            "chat.postMessage",
            timeout=30,
            where=lambda c: c.args.get("thread_ts") == ts and fragment in c.text,
        )[0]

    def status(self, proposal_id: str) -> ProposalStatus:
        return self.runtime.store.get(proposal_id).status


@contextmanager
def running(tmp_path: Path, make_settings, database_url: str) -> Iterator[Harness]:
    repo = make_repo(tmp_path, {"orders.py": ORDERS_PY})
    protect_branch(repo.bare, "main")
    log = tmp_path / "service.log"
    log.write_text("")
    with FakeSlack() as slack, FakeGitHub(bare=repo.bare) as github:
        settings = make_settings(
            database_url=database_url,
            slack_bot_token=BOT_TOKEN,
            slack_channel="#ops",
            slack_signing_secret=SIGNING_SECRET,
            slack_approvers=ALICE,
            slack_api_url=slack.server.url,
            target_repo_path=repo.work,
            log_file=log,
            delivery="pull_request",
            github_token=TOKEN,
            github_repository=github.repository,
            github_api_url=github.url,
        )
        runtime = build_runtime(settings, notifier=configured_notifier(settings))
        delivered: list[tuple[str, ProposalStatus, str]] = []
        monitor = build_monitor(
            runtime, on_delivered=lambda p, sha: delivered.append((p.id, p.status, sha))
        )
        bot = SlackBot(config=slack_config(settings), runtime=runtime, monitor=monitor)
        server: HttpServer = serve_http(
            port=0, host="127.0.0.1", slack=bot, health=monitor.health
        ).start()
        sender = SlackSender(f"{server.url}/slack/events")
        try:
            yield Harness(slack, github, repo, runtime, monitor, bot, sender, delivered)
        finally:
            sender.close()
            server.stop()
            bot.close()
            monitor.stop()
            runtime.close()


def test_pull_request_opened_merged_and_verified_then_one_closed(
    tmp_path: Path, make_settings, database_url: str
) -> None:
    with running(tmp_path, make_settings, database_url) as h:
        main_at_start = h.repo.remote_head("main")

        # Approve: the validated commit lands on mendbot/<id>, the PR link in the thread.
        first, channel, ts = h.post(make_proposal())
        opened = h.approve(first.id, channel, ts)
        branch = f"mendbot/{first.id}"
        assert "<https://github.com/acme/orders/pull/1|#1>" in opened.text
        assert opened.args.get("reply_broadcast") is True
        assert h.status(first.id) is ProposalStatus.AWAITING_MERGE
        assert ORDERS_NEW in git(h.repo.bare, "show", f"{branch}:orders.py")
        assert h.repo.remote_head("main") == main_at_start
        parent = h.slack.message(channel, ts)
        assert "pull request open" in str(parent["blocks"])
        assert "mendbot_approve" not in str(parent["blocks"])

        # A cycle while the pull request is open changes nothing.
        assert h.monitor.run_cycle() is not None
        assert h.status(first.id) is ProposalStatus.AWAITING_MERGE and h.delivered == []

        # A reviewer merges it on GitHub; the next cycle records it and calls the hook.
        merge_sha = h.github.merge(1)
        assert h.monitor.run_cycle() is not None
        applied = h.runtime.store.get(first.id)
        assert applied.status is ProposalStatus.APPLIED
        assert applied.commit_sha == merge_sha == h.repo.remote_head("main")
        assert h.delivered == [(first.id, ProposalStatus.APPLIED, merge_sha)]
        merged = h.wait_thread(ts, "was merged into `main`")
        assert merge_sha[:12] in merged.text and "pull/1|#1>" in merged.text
        assert ":rocket: applied" in str(h.slack.message(channel, ts)["blocks"])
        trail = h.runtime.store.audit_trail(first.id)
        actions = [e.action for e in trail]
        start = actions.index("applying")
        assert actions[start : start + 3] == ["applying", "awaiting_merge", "applied"]
        assert trail[start + 2].details["pull_request"]["url"].endswith("/pull/1")

        # A second fix (on top of the merged one); its pull request is closed unmerged.
        second_edit = Edit(path="orders.py", old_text=DOCSTRING, new_text=DOCSTRING[:-3] + ' v2"""')
        merged_source = ORDERS_PY.replace(ORDERS_OLD, ORDERS_NEW)  # its evidence holds there
        evidence = [frame_evidence(merged_source, "orders.py", 5, "get_order")]
        second, channel2, ts2 = h.post(
            make_proposal(edits=[second_edit], fingerprint="0badc0de" * 4, evidence=evidence)
        )
        h.approve(second.id, channel2, ts2)
        second_branch = f"mendbot/{second.id}"
        assert git(h.repo.bare, "rev-parse", f"{second_branch}^") == merge_sha
        tip = h.repo.remote_head(second_branch)
        h.github.close(2)
        assert h.monitor.run_cycle() is not None
        rejected = h.runtime.store.get(second.id)
        assert rejected.status is ProposalStatus.REJECTED
        assert h.runtime.store.audit_trail(second.id)[-1].details["reason"] == (
            "pull request closed"
        )
        closed = h.wait_thread(ts2, "closed without merging")
        assert f"`{second_branch}` is left as it is" in closed.text
        assert h.repo.remote_head(second_branch) == tip  # the branch is left as it is
        assert h.repo.remote_head("main") == merge_sha
        assert len(h.delivered) == 1
        assert [r.method for r in h.github.requests()].count("POST") == 2
