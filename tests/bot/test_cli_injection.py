"""Nothing in a log or an LM answer can speak in a terminal or a commit message.

The injection corpus (:mod:`tests.fakes.hostile`) through ``mendbot scan`` (human and
``--json``, the real command in a child process), ``mendbot fixes show | list`` (and their
``--json``), the progress of ``fixes implement``, and ``git log`` of fix commits. Each
test prints ``surface: tried/neutralised``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.cli.main import main
from core.models import Diagnosis
from core.proposals import Edit, FixProposal
from fixes.apply.commit_message import commit_message
from monitoring.runtime import build_runtime
from settings import get_settings
from tests.conftest import ROOT
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.hostile import CORPUS, marked, marker, terminal_problems
from tests.fakes.proposals import KEYERROR_FIX, SERVICE, make_proposal


@pytest.fixture
def service(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, SERVICE)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, service: RepoPair):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("TARGET_REPO_PATH", str(service.work))
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


@pytest.fixture
def runtime(env):
    built = build_runtime(get_settings())
    yield built
    built.close()


def hostile_proposal(text: str) -> FixProposal:
    """A proposal with ``text`` in every field a person reads."""
    base = make_proposal(title=text, root_cause=text)
    anomaly = base.anomaly.model_copy(update={"summary": text, "template": text})
    diagnosis = Diagnosis(**{**base.diagnosis.model_dump(), "affected_components": [text]})
    edit = Edit(path="app.py", old_text=KEYERROR_FIX.old_text, new_text=text + "\n")
    return base.model_copy(
        update={
            "anomaly": anomaly,
            "diagnosis": diagnosis,
            "reasoning": text,
            "risk_notes": text,
            "notes": [text],
            "edits": [edit],
            "error": text,
            "decided_by": text,
        }
    )


def _report(surface: str, failures: list[str]) -> None:
    print(f"terminal {surface}: {len(CORPUS)} tried, {len(CORPUS) - len(failures)} neutralised")
    assert failures == [], failures


def test_fixes_show_prints_every_field_inert(runtime, capsys) -> None:
    failures = []
    for index, injection in enumerate(CORPUS):
        text = marked(index, injection)
        stored = runtime.store.add(hostile_proposal(text))
        runtime.store.audit(
            actor=text, action="refused", proposal_id=stored.id, details={"why": text}
        )
        runtime.store.audit(
            actor="mendbot",
            action="validation_output",
            proposal_id=stored.id,
            details={"output": text},
        )
        assert main(["fixes", "show", stored.id]) == 0
        shown = capsys.readouterr().out
        problems = terminal_problems(shown)
        field_lines = [line for line in shown.splitlines() if line.startswith("status:")]
        if len(field_lines) != 1:
            problems.append(f"{len(field_lines)} status lines")
        if any(line.startswith(("Approved-by", "Fix-Id")) for line in shown.splitlines()):
            problems.append("a forged line")
        if shown.count(marker(index)) < 8:
            problems.append("a field went missing")
        if problems:
            failures.append(f"{injection.name}: {problems[:4]}")
    _report("fixes show", failures)


def test_fixes_list_prints_one_row_per_proposal(runtime, capsys) -> None:
    for index, injection in enumerate(CORPUS):
        runtime.store.add(hostile_proposal(marked(index, injection)))
    assert main(["fixes", "list", "--limit", "100"]) == 0
    shown = capsys.readouterr().out
    rows = shown.splitlines()[1:]
    failures = [
        injection.name
        for index, injection in enumerate(CORPUS)
        if sum(marker(index) in row for row in rows) != 1
    ]
    assert len(rows) == len(CORPUS)
    assert terminal_problems(shown) == []
    _report("fixes list", failures)


def test_fixes_json_is_valid_lossless_and_inert(runtime, capsys) -> None:
    failures = []
    for index, injection in enumerate(CORPUS):
        text = marked(index, injection)
        stored = runtime.store.add(hostile_proposal(text))
        assert main(["fixes", "show", stored.id, "--json"]) == 0
        raw = capsys.readouterr().out
        shown = json.loads(raw)
        problems = terminal_problems(raw)
        if shown["title"] != text or shown["diagnosis"]["root_cause"] != text:
            problems.append("not lossless")
        if problems:
            failures.append(f"{injection.name}: {problems[:4]}")
    assert main(["fixes", "list", "--json", "--limit", "100"]) == 0
    raw = capsys.readouterr().out
    assert terminal_problems(raw) == []
    assert sorted(json.loads(line)["title"] for line in raw.splitlines()) == sorted(
        marked(i, inj) for i, inj in enumerate(CORPUS)
    )
    _report("fixes show --json / list --json", failures)


def test_implement_progress_shows_hostile_validation_output_inert(env, runtime, capsys) -> None:
    hostile = "".join(injection.text for injection in CORPUS[:22])
    script = Path.cwd() / "validate.py"
    script.write_text(f"import sys\nsys.stdout.write({hostile!r})\nsys.exit(1)\n")
    env.setenv("VALIDATE_COMMAND", f"{sys.executable} {script}")
    get_settings.cache_clear()
    stored = runtime.store.add(make_proposal())

    assert main(["fixes", "implement", stored.id]) == 1

    captured = capsys.readouterr()
    assert "validation failed" in captured.err and "\\x1b[2J" in captured.err
    assert terminal_problems(captured.err + captured.out) == []
    assert main(["fixes", "show", stored.id]) == 0
    assert terminal_problems(capsys.readouterr().out) == []


def test_commit_messages_are_inert_in_git_log(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    failures = []
    for index, injection in enumerate(CORPUS):
        text = marked(index, injection)
        proposal = hostile_proposal(text).model_copy(update={"id": f"fix_20261121_0233{index:02d}"})
        message = commit_message(proposal, approved_by=text)
        git(tmp_path, "commit", "-q", "--allow-empty", "-m", message)
        logged = git(tmp_path, "log", "-1", "--format=%B")
        trailers = git(tmp_path, "log", "-1", "--format=%(trailers:only,unfold)")
        problems = terminal_problems(logged)
        names = [line.split(":", 1)[0] for line in trailers.splitlines() if line]
        if names != ["Fix-Id", "Approved-by", "Anomaly"]:
            problems.append(f"trailers {names}")
        if f"Fix-Id: {proposal.id}" not in trailers or marker(index) not in logged:
            problems.append("lost")
        if problems:
            failures.append(f"{injection.name}: {problems[:4]}")
    _report("git log", failures)


def test_a_fix_pushed_with_a_hostile_proposal_has_an_inert_commit(runtime, service) -> None:
    hostile = "".join(injection.text for injection in CORPUS[:22])
    proposal = hostile_proposal(hostile).model_copy(update={"edits": [KEYERROR_FIX]})
    stored = runtime.store.add(proposal)

    final = runtime.decisions.implement(stored.id, actor="cli:ops")

    assert final.commit_sha, final.error
    logged = git(service.bare, "log", "-1", "--format=%B", "main")
    assert terminal_problems(logged) == []
    assert "\\x1b[2J" in logged and "\\u202e" in logged
    trailers = git(service.bare, "log", "-1", "--format=%(trailers:only,unfold)", "main")
    assert trailers.splitlines() == [
        f"Fix-Id: {stored.id}",
        "Approved-by: cli:ops",
        f"Anomaly: {stored.fingerprint}",
    ]


# --- mendbot scan: the real command line --------------------------------------------------


def _hostile_log(path: Path) -> None:
    lines = [
        f"2026-11-21 02:33:{index:02d},000 - app.orders - ERROR - INJ{chr(65 + index)}Z {injection.text}"
        for index, injection in enumerate(CORPUS)
    ]
    path.write_bytes(("\n".join(lines) + "\n").encode("utf-8", "surrogateescape"))


def _scan(tmp_path: Path, *argv: str) -> subprocess.CompletedProcess[bytes]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "MENDBOT_", "TARGET_"))
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'scan.db'}"
    return subprocess.run(
        [sys.executable, "-m", "bot.cli.main", "scan", *argv],
        capture_output=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("as_json", [False, True], ids=["human", "json"])
def test_scan_output_is_inert(tmp_path: Path, as_json: bool) -> None:
    log = tmp_path / "hostile.log"
    _hostile_log(log)
    done = _scan(tmp_path, str(log), *(["--json"] if as_json else []))
    assert done.returncode == 0, done.stderr
    stdout = done.stdout.decode("utf-8")
    problems = terminal_problems(stdout) + terminal_problems(done.stderr.decode("utf-8"))
    assert problems == []
    if as_json:
        objects = [json.loads(line) for line in stdout.splitlines()]
        samples = " ".join(s for o in objects if o["type"] == "anomaly" for s in o["samples"])
        assert "\x1b[2J" in samples and "\u202e" in samples  # lossless: JSON escapes decode
    failures = [
        injection.name
        for index, injection in enumerate(CORPUS)
        if f"INJ{chr(65 + index)}Z" not in stdout and injection.name != "long line"
    ]
    _report("scan --json" if as_json else "scan", failures)


def test_rich_markup_in_a_log_is_text_even_on_a_colour_terminal() -> None:
    """On a terminal rich writes its own colours; a log's ``[link=...]`` must not become a
    hyperlink (OSC 8) nor its ``[bold]`` a style: every cell is plain Text."""
    import io

    from rich.console import Console

    from bot.cli import scan_output
    from tests.fakes.anomalies import anomaly

    markup = "[bold red]FAKE[/] [link=http://evil.example]click[/link] :warning:"
    found = [anomaly(kind="new_error", template=markup, logger=markup)]
    proposal = hostile_proposal(markup).model_copy(update={"id": "fix_20261121_023300"})
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, color_system="truecolor", width=200)
    scan_output.render(console, 1, found, [proposal])
    shown = screen.getvalue()
    assert "\x1b]8;" not in shown  # no hyperlink
    assert shown.count("[link=http://evil.example]click[/link]") >= 3  # template, logger, title
    assert "[bold red]FAKE[/]" in shown and ":warning:" in shown
