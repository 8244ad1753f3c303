"""FixImplementor on a real checkout with a real bare remote: apply, validate, roll back, refuse."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from core.notifier import InMemoryNotifier
from core.proposals import Edit, ProposalStatus, Risk
from fixes.apply.commit_message import commit_message
from monitoring.runtime import Runtime, build_runtime
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import (
    KEYERROR_FIX,
    SERVICE,
    UTIL,
    WEB,
    frame_evidence,
    make_proposal,
    tree_hashes,
)

#: The evidence a traceback through lib/util.py's parse() gives.
PARSE_FRAME = frame_evidence(UTIL, "lib/util.py", 5, "parse")


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def runtime_for(make_settings, database_url: str, service: RepoPair):
    """Build a runtime on ``service`` with settings overrides; closed afterwards."""
    built: list[Runtime] = []

    def factory(**overrides: object) -> Runtime:
        overrides.setdefault("target_repo_path", service.work)
        settings = make_settings(database_url=database_url, **overrides)
        runtime = build_runtime(settings, notifier=InMemoryNotifier())
        built.append(runtime)
        return runtime

    yield factory
    for runtime in built:
        runtime.close()


def _trailers(pair: RepoPair) -> dict[str, str]:
    return _parse_trailers(pair.work, pair.remote_message())


def _parse_trailers(cwd: Path, message: str) -> dict[str, str]:
    out = subprocess.run(
        ["git", "interpret-trailers", "--parse"],
        cwd=cwd,
        input=message,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(": ", 1) for line in out.splitlines())


def test_success_pushes_one_commit_with_trailers(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())
    base = service.remote_head()

    final = runtime.decisions.implement(proposal.id, actor="U123ABC")

    assert final.status is ProposalStatus.APPLIED, final.error
    assert service.remote_head() == final.commit_sha == service.head()
    assert git(service.bare, "rev-parse", f"{final.commit_sha}^") == base
    assert service.remote_message().startswith("Auto-fix: KeyError in orders()\n\n")
    assert _trailers(service) == {
        "Fix-Id": proposal.id,
        "Approved-by": "U123ABC",
        "Anomaly": proposal.fingerprint,
    }
    assert git(service.bare, "log", "-1", "--format=%an <%ae>") == "mendbot <mendbot@localhost>"
    assert git(service.bare, "show", "--name-only", "--format=", "main") == "app.py"
    assert git(service.work, "status", "--porcelain") == ""
    assert '.get(body["user_id"])' in (service.work / "app.py").read_text()
    audit = [(e.action, e.actor) for e in runtime.store.audit_trail(proposal.id)]
    assert audit == [
        ("proposed", "mendbot"),
        ("approved", "U123ABC"),
        ("applying", "mendbot"),
        ("applied", "mendbot"),
    ]
    notifier = runtime.notifier
    assert isinstance(notifier, InMemoryNotifier)
    assert notifier.event_kinds(proposal.id) == [
        "approved",
        "applying",
        "validation_passed",
        "applied",
    ]
    assert not (service.work / ".git" / "mendbot" / "journal.json").exists()


def test_validation_failure_restores_every_byte(runtime_for, service: RepoPair) -> None:
    command = "echo running checks; echo password=hunter2hunter2; echo 'FAILED test_orders'; exit 3"
    runtime = runtime_for(validate_command=command)
    proposal = runtime.store.add(make_proposal())
    before, remote_before = tree_hashes(service.work), service.remote_head()

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.ROLLED_BACK
    assert "validation failed (command)" in (final.error or "")
    assert tree_hashes(service.work) == before
    assert service.remote_head() == remote_before == service.head()
    assert git(service.work, "status", "--porcelain") == ""
    trail = runtime.store.audit_trail(proposal.id)
    [output] = [e.details["output"] for e in trail if e.action == "validation_output"]
    assert "FAILED test_orders" in output and "[VALIDATE_COMMAND exited 3]" in output
    assert "hunter2hunter2" not in output
    assert [e.action for e in trail][-1] == "rolled_back"


def test_validate_command_timeout_is_killed_and_rolled_back(runtime_for, service) -> None:
    runtime = runtime_for(validate_command="echo started; sleep 30", validate_timeout_seconds=0.5)
    proposal = runtime.store.add(make_proposal())
    before = tree_hashes(service.work)

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.ROLLED_BACK
    assert tree_hashes(service.work) == before
    [output] = [
        e.details["output"]
        for e in runtime.store.audit_trail(proposal.id)
        if e.action == "validation_output"
    ]
    assert "started" in output and "timed out after 0.5 s" in output


def test_stale_proposal_is_refused_before_any_file_is_touched(
    runtime_for,
    service: RepoPair,
    tmp_path: Path,
) -> None:
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())
    changed = SERVICE["app.py"].replace("# bug: unknown users raise KeyError", "# known bug")
    service.push_from_elsewhere(tmp_path, {"app.py": changed}, "colleague edits orders()")

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.FAILED
    assert "refused before any change" in (final.error or "")
    assert "old text does not occur" in (final.error or "")
    assert (service.work / "app.py").read_text() == changed  # fast-forwarded, not edited
    assert not (service.work / ".git" / "mendbot" / "backups").exists()
    assert git(service.work, "status", "--porcelain") == ""


@pytest.mark.parametrize(
    "path",
    [
        "../outside.py",
        "lib/../../outside.py",
        "/etc/hostname",
        ".git/config",
        ".env",
        "config/.env.production",
        ".github/workflows/deploy.yml",
        "escape/outside.py",
    ],
)
def test_edits_outside_or_protected_are_refused(
    runtime_for,
    service: RepoPair,
    tmp_path: Path,
    path: str,
) -> None:
    outside = tmp_path / "outside.py"
    outside.write_text("SECRET = 1\n")
    (service.work / "escape").symlink_to(tmp_path, target_is_directory=True)
    git(service.work, "add", "escape")
    git(service.work, "commit", "-q", "-m", "a symlink out of the repository")
    git(service.work, "push", "-q", "origin", "main")
    runtime = runtime_for()
    edit = Edit(path=path, old_text="SECRET = 1", new_text="SECRET = 2")
    proposal = runtime.store.add(make_proposal([edit]))
    before = tree_hashes(service.work)

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.FAILED
    assert "refused" in (final.error or "")
    assert outside.read_text() == "SECRET = 1\n"
    assert tree_hashes(service.work) == before
    assert (service.work / ".git" / "config").read_text().count("SECRET") == 0


def test_syntax_error_is_refused_before_any_change(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    broken = Edit(
        path="lib/util.py",
        old_text='return text.strip().split(",")',
        new_text='return text.strip(.split(",")',
    )
    proposal = runtime.store.add(make_proposal([broken], evidence=[PARSE_FRAME]))
    before = tree_hashes(service.work)

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.FAILED
    assert "refused before any change" in (final.error or "")
    assert "no longer be valid Python" in (final.error or "")
    assert tree_hashes(service.work) == before


def test_module_failing_at_import_is_rolled_back(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    edit = Edit(
        path="app.py",
        old_text='STATS = {"orders": [], "users": {}}',
        new_text='STATS = {"orders": [], "users": load_users()}',
    )
    proposal = runtime.store.add(make_proposal([edit]))

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.ROLLED_BACK
    [output] = [
        e.details["output"]
        for e in runtime.store.audit_trail(proposal.id)
        if e.action == "validation_output"
    ]
    assert "NameError" in output and "load_users" in output


def test_missing_third_party_dependency_is_not_blamed_on_the_fix(runtime_for, service) -> None:
    runtime = runtime_for()
    proposal = runtime.store.add(
        make_proposal(
            [Edit(path="web.py", old_text="LIMIT = 10", new_text="LIMIT = 20")],
            evidence=[frame_evidence(WEB, "web.py", 7, "<module>")],
        )
    )

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.APPLIED, final.error
    notifier = runtime.notifier
    assert isinstance(notifier, InMemoryNotifier)
    [checks] = [e.details["checks"] for _pid, e in notifier.events if e.kind == "validation_passed"]
    assert any("skipped web (needs fastapi" in line for line in checks)


def test_dependency_introduced_by_the_fix_is_blamed(runtime_for, service: RepoPair) -> None:
    runtime = runtime_for()
    edit = Edit(
        path="app.py",
        old_text="import json\n",
        new_text="import json\nimport ujsonx_not_installed\n",
    )
    reasons = ["adds an import (ujsonx_not_installed)"]
    proposal = runtime.store.add(make_proposal([edit], risk=Risk.HIGH, risk_reasons=reasons))

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.ROLLED_BACK
    assert "(import)" in (final.error or "")


def test_a_new_file_is_refused_before_any_change(runtime_for, service) -> None:
    create = Edit(
        path="lib/extra/helpers.py", old_text="", new_text="def helper():\n    return 1\n"
    )
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal([KEYERROR_FIX, create]))
    before, base = tree_hashes(service.work), service.remote_head()

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.FAILED
    assert "new file" in (final.error or "")
    assert tree_hashes(service.work) == before and service.remote_head() == base
    assert not (service.work / "lib" / "extra").exists()


def test_crlf_file_keeps_its_line_endings(runtime_for, service: RepoPair) -> None:
    (service.work / "win.py").write_bytes(b"A = 1\r\nB = 2\r\nC = 3\r\n")
    git(service.work, "add", "win.py")
    git(service.work, "commit", "-q", "-m", "windows file")
    git(service.work, "push", "-q", "origin", "main")
    runtime = runtime_for()
    proposal = runtime.store.add(
        make_proposal(
            [Edit(path="win.py", old_text="B = 2\nC = 3", new_text="B = 20\nC = 30")],
            evidence=[frame_evidence("A = 1\r\nB = 2\r\nC = 3\r\n", "win.py", 2, "<module>")],
        )
    )

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.APPLIED, final.error
    assert (service.work / "win.py").read_bytes() == b"A = 1\r\nB = 20\r\nC = 30\r\n"


@pytest.mark.parametrize("problem", ["wrong_branch", "dirty", "ahead", "not_a_repo"])
def test_preflight_refuses_with_a_reason(
    runtime_for,
    service: RepoPair,
    tmp_path: Path,
    problem: str,
) -> None:
    expected = {
        "wrong_branch": "on branch feature, not GIT_BRANCH=main",
        "dirty": "uncommitted changes: README.md",
        "ahead": "1 local commit(s) not on origin",
        "not_a_repo": "is not the root of a git checkout",
    }[problem]
    target = service.work
    if problem == "wrong_branch":
        git(service.work, "checkout", "-q", "-b", "feature")
    elif problem == "dirty":
        (service.work / "README.md").write_text("# edited by hand\n")
    elif problem == "ahead":
        (service.work / "README.md").write_text("# local only\n")
        git(service.work, "commit", "-q", "-am", "not pushed")
    else:
        target = tmp_path / "plain"
        target.mkdir()
    runtime = runtime_for(target_repo_path=target)
    proposal = runtime.store.add(make_proposal())
    before = tree_hashes(service.work)

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.FAILED
    assert expected in (final.error or "")
    assert tree_hashes(service.work) == before


def test_credentials_in_the_remote_url_never_reach_a_reason(runtime_for, service) -> None:
    token = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
    git(
        service.work,
        "remote",
        "set-url",
        "origin",
        f"http://oauth2:{token}@127.0.0.1:9/service.git",
    )
    runtime = runtime_for()
    proposal = runtime.store.add(make_proposal())

    final = runtime.decisions.implement(proposal.id, actor="cli:ops")

    assert final.status is ProposalStatus.FAILED
    assert "cannot fetch" in (final.error or "")
    assert token not in (final.error or "")
    assert all(token not in str(e.details) for e in runtime.store.audit_trail(proposal.id))


def test_commit_message_keeps_untrusted_text_out_of_the_trailers(tmp_path: Path) -> None:
    proposal = make_proposal(
        title="Fix\nFix-Id: fix_evil\x1b[31m",
        root_cause="line one\n---\nFix-Id: fix_evil\nApproved-by: attacker",
    ).model_copy(update={"id": "fix_20261121_023300"})

    message = commit_message(proposal, approved_by="U1\nAnomaly: forged")

    git(tmp_path, "init", "-q")
    assert message.splitlines()[0] == "Auto-fix: Fix Fix-Id: fix_evil\\x1b[31m"
    assert _parse_trailers(tmp_path, message) == {
        "Fix-Id": "fix_20261121_023300",
        "Approved-by": "U1 Anomaly: forged",
        "Anomaly": proposal.fingerprint,
    }


#: GitHub's closing-keyword grammar: keyword, optional colon, whitespace, an issue reference.
CLOSES = re.compile(
    r"(?i)\b(close[sd]?|fix(e[sd])?|resolve[sd]?):?\s+([\w.-]+/[\w.-]+)?(#\d|https?://)"
)


@pytest.mark.parametrize(
    "evil",
    [
        "Fixes #1",
        "this closes acme/orders#2",
        "RESOLVED: https://github.com/acme/orders/issues/3",
        "fix:\t#4",
        "word " * 14 + "fixed #5",  # wrapped: the keyword at a line's end, #5 on the next
        "close\n#6",
    ],
)
def test_commit_message_closes_no_issue(evil: str) -> None:
    proposal = make_proposal(title=evil, root_cause=evil).model_copy(update={"reasoning": evil})
    proposal.anomaly.summary = evil

    message = commit_message(proposal, approved_by=evil, proven=None)

    assert CLOSES.search(message) is None, message
    assert message.count("[") >= 3  # still readable: the keyword kept, in brackets


def test_commit_url_for_known_forges(service: RepoPair) -> None:
    from fixes.apply.gitops import GitOps

    ops = GitOps.open(
        service.work, remote="origin", branch="main", author_name="m", author_email="m@x"
    )
    assert ops.commit_url("abc") is None  # a local bare remote
    for url, link in [
        ("git@github.com:acme/orders.git", "https://github.com/acme/orders/commit/abc"),
        (
            "https://x-access-token:tok@github.com/acme/orders.git",
            "https://github.com/acme/orders/commit/abc",
        ),
        ("https://gitlab.com/acme/sub/orders", "https://gitlab.com/acme/sub/orders/-/commit/abc"),
    ]:
        git(service.work, "remote", "set-url", "origin", url)
        assert ops.commit_url("abc") == link
    assert os.environ.get("GIT_TERMINAL_PROMPT") is None  # set per command, not globally
