"""``mendbot scan``: JSON lines and human output, exit codes, and bad input without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import scan_command, scan_output
from bot.cli.main import build_parser
from core.edits import check_edits
from core.models import Anomaly, Diagnosis, Severity
from core.proposals import Edit, FixProposal, ProposalStatus, Risk
from fixes.persistence.db import Database
from fixes.persistence.store import ProposalStore
from tests.conftest import ASGI_LOG, ROOT
from tests.fakes.git import SERVICE_DIR, make_repo

EXCERPT = ROOT / "tests" / "data" / "asgi_excerpt.log"


def scan(make_settings, capsys, *argv: str) -> tuple[int, str, str]:
    """Run ``mendbot scan ARGV`` in-process; returns (exit code, stdout, stderr)."""
    args = build_parser().parse_args(["scan", *argv])
    code = scan_command.run(args, make_settings())
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def mendbot(tmp_path: Path):
    """The real command line in a child process: no mendbot settings from the environment,
    a database of its own in ``tmp_path``."""

    def run(
        *argv: str, stdin: bytes | None = None, env_extra: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "MENDBOT_", "TARGET_", "DATABASE_"))
        }
        env.update({"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", **(env_extra or {})})
        return subprocess.run(
            [sys.executable, "-m", "bot.cli.main", *argv],
            input=stdin,
            capture_output=True,
            cwd=ROOT,
            env=env,
            timeout=120,
            check=False,
            text=stdin is None,
        )

    return run


def _objects(stdout: str, kind: str) -> list[dict]:
    return [o for o in map(json.loads, stdout.splitlines()) if o["type"] == kind]


@pytest.mark.skipif(not ASGI_LOG.is_file(), reason="../shared/data is not checked out here")
def test_real_command_json_on_the_shared_log(mendbot) -> None:
    done = mendbot("scan", str(ASGI_LOG), "--json")
    assert done.returncode == 0, done.stderr
    objects = _objects(done.stdout, "anomaly")
    proposals = _objects(done.stdout, "proposal")
    assert [p["fingerprint"] for p in proposals] == [o["fingerprint"] for o in objects]
    assert all(p["edits"] == [] for p in proposals)  # no TARGET_REPO_PATH: nothing to edit
    kinds = sorted((o["kind"], o["count"]) for o in objects)
    assert kinds == sorted(
        [
            ("repeated_error", 19),
            ("repeated_error", 9),
            ("repeated_error", 3),
            ("truncation", 11),
            ("duplicate_spike", 22),
            ("slow_operation", 3),
            ("new_error", 1),
        ]
    )
    for obj in objects:
        Anomaly.model_validate({k: v for k, v in obj.items() if k != "type"})
        assert datetime.fromisoformat(obj["first_seen"]).tzinfo is not None
        assert set(Anomaly.model_fields) <= set(obj)


def test_json_lines_on_the_excerpt(make_settings, capsys) -> None:
    code, out, err = scan(make_settings, capsys, str(EXCERPT), "--json")
    assert code == 0 and err == ""
    objects = _objects(out, "anomaly")
    assert len(objects) == 7 and objects[0]["severity"] == "HIGH"
    assert len(_objects(out, "proposal")) == 7
    assert objects[0]["first_seen"].endswith("Z") or "+00:00" in objects[0]["first_seen"]


def test_human_output_is_a_table_and_a_summary(make_settings, capsys) -> None:
    code, out, _ = scan(make_settings, capsys, str(EXCERPT))
    assert code == 0
    assert "KeyError in orders (app.py)" in out and "duplicate_spike" in out
    assert out.rstrip().splitlines()[-1] == (
        "66 records, 7 anomalies (3 HIGH, 2 MEDIUM, 2 LOW), 7 proposals"
    )


def test_fail_on_severity(make_settings, capsys) -> None:
    assert scan(make_settings, capsys, str(EXCERPT), "--fail-on", "HIGH")[0] == 1
    assert scan(make_settings, capsys, str(EXCERPT), "--fail-on", "CRITICAL")[0] == 0


def test_no_path_and_no_source_configured(make_settings, capsys) -> None:
    code, out, err = scan(make_settings, capsys)
    assert (code, out) == (2, "")
    assert "no log source configured; pass a PATH or '-'" in err


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data", "records"),
    [
        ("empty.log", b"", 0),
        ("garbage.bin", bytes(range(256)) * 64 + b"\n\xff\xfe\x00ERROR \xc3\x28 oops\n", None),
        ("invalid-utf8.log", b"2026-01-01 00:00:00,000 - app - ERROR - caf\xe9 \xff broke\n", 1),
        ("huge-line.log", b"x" * (1 << 20) + b"\n2026-01-01 00:00:00,000 - a - INFO - after\n", 2),
        ("no-newline-at-end.log", b"WARNING:root:last line", 1),
    ],
)
def test_odd_content_is_scanned_not_refused(
    make_settings, capsys, tmp_path: Path, name: str, data: bytes, records: int | None
) -> None:
    path = _write(tmp_path, name, data)
    code, out, err = scan(make_settings, capsys, str(path))
    assert code == 0 and "Traceback" not in err
    summary = out.rstrip().splitlines()[-1]
    if records is not None:
        assert summary.startswith(f"{records} record")


@pytest.mark.parametrize("target", ["missing.log", "."])
def test_unreadable_input_exits_2_with_one_line(mendbot, tmp_path: Path, target: str) -> None:
    done = mendbot("scan", str(tmp_path / target))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("mendbot: cannot scan: ") and done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


def test_stdin_with_binary_garbage_and_a_megabyte_line(mendbot) -> None:
    data = os.urandom(4096) + b"\n" + b"y" * (1 << 20) + b"\n" + EXCERPT.read_bytes()
    done = mendbot("scan", "-", "--json", stdin=data)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr
    kinds = [o["kind"] for o in _objects(done.stdout, "anomaly")]
    assert kinds.count("repeated_error") == 3


def test_log_text_is_never_console_markup(make_settings, capsys, tmp_path: Path) -> None:
    line = "2026-01-01 00:00:00,000 - app - ERROR - [bold red]boom[/] \x1b[m\n"
    path = _write(tmp_path, "markup.log", line.encode() * 3)
    code, out, _ = scan(make_settings, capsys, str(path))
    assert code == 0
    assert "[bold red]boom[/]" in out and "\\x1b[m" in out and "\x1b" not in out


def test_proposal_json_shape() -> None:
    now = datetime(2026, 11, 21, 2, 33, tzinfo=UTC)
    anomaly = Anomaly(
        kind="new_error",
        fingerprint="abc",
        template="KeyError in orders",
        count=1,
        first_seen=now,
        last_seen=now,
        severity=Severity.MEDIUM,
    )
    proposal = FixProposal(
        id="fix_20261121_023300",
        fingerprint="abc",
        anomaly=anomaly,
        title="KeyError",
        diagnosis=Diagnosis(
            root_cause="unknown user id", severity_assessment=Severity.HIGH, confidence=0.8
        ),
        edits=[Edit(path="app.py", old_text="a[k]", new_text="a.get(k)")],
        reasoning="guard",
        risk=Risk.HIGH,
        risk_reasons=["adds an import (os)"],
        created_at=now,
    )
    assert scan_output.proposal_to_json(proposal) == {
        "type": "proposal",
        "id": "fix_20261121_023300",
        "fingerprint": "abc",
        "title": "KeyError",
        "root_cause": "unknown user id",
        "edits": [{"path": "app.py", "old_text": "a[k]", "new_text": "a.get(k)"}],
        "reasoning": "guard",
        "risk": "HIGH",
        "risk_reasons": ["adds an import (os)"],
        "status": ProposalStatus.PROPOSED.value,
    }
    assert "1 proposal" in scan_output.summary_line(3, [anomaly], [proposal])


def _by_kind(anomalies: list[dict], proposals: list[dict]) -> dict[str, dict]:
    kind_of = {a["fingerprint"]: (a["kind"], a["template"]) for a in anomalies}
    return {" ".join(kind_of[p["fingerprint"]]): p for p in proposals}


def test_scan_proposes_applicable_fixes_offline_and_stores_them(
    make_settings, capsys, tmp_path: Path
) -> None:
    repo = make_repo(tmp_path, copy_from=SERVICE_DIR)
    settings = make_settings(target_repo_path=repo.work)
    args = build_parser().parse_args(["scan", str(EXCERPT), "--json"])

    assert scan_command.run(args, settings) == 0
    out = capsys.readouterr().out
    proposals = _by_kind(_objects(out, "anomaly"), _objects(out, "proposal"))
    truncation = next(p for k, p in proposals.items() if k.startswith("truncation"))
    key_error = next(p for k, p in proposals.items() if "KeyError" in k)
    mcp = next(p for k, p in proposals.items() if "MCP Tool failed" in k)
    edits = [Edit.model_validate(e) for e in truncation["edits"]]
    assert check_edits(repo.work, edits) and '"3000"' in edits[0].old_text
    assert key_error["edits"] and key_error["edits"][0]["path"] == "app.py"
    assert mcp["edits"] == []  # no safe edit is clear: needs investigation
    assert all(p["status"] == "proposed" and p["id"].startswith("fix_") for p in proposals.values())

    # A second scan of the same log posts nothing new: the same proposals stand, seen again.
    assert scan_command.run(args, settings) == 0
    again = _objects(capsys.readouterr().out, "proposal")
    assert {p["id"] for p in again} <= {p["id"] for p in proposals.values()}
    store = ProposalStore(Database(settings.database_url))
    assert len(store.list()) == len(proposals)
    assert store.get(truncation["id"]).seen_again > 0


def test_no_diagnose_stores_nothing(make_settings, capsys) -> None:
    settings = make_settings()
    code, out, _ = scan(lambda: settings, capsys, str(EXCERPT), "--no-diagnose", "--json")
    assert code == 0 and len(_objects(out, "anomaly")) == 7 and not _objects(out, "proposal")
    assert ProposalStore(Database(settings.database_url)).list() == []


def test_no_path_reads_the_configured_source_once(make_settings, capsys, tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    log.write_bytes(EXCERPT.read_bytes())
    settings = make_settings(log_file=log)
    code, out, _ = scan(lambda: settings, capsys, "--json")
    assert code == 0 and len(_objects(out, "anomaly")) == 7
    # The cursor moved: a second scan reads nothing new.
    code, out, _ = scan(lambda: settings, capsys)
    assert code == 0 and out.rstrip().splitlines()[-1].startswith("0 records")


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_readme_command_shows_diffs_from_a_scratch_copy_and_leaves_the_folder_alone(
    mendbot, tmp_path: Path
) -> None:
    """A newcomer's first minute: no git init, no settings; a concrete diff on stdout."""
    service = tmp_path / "service"
    service.mkdir()
    (service / "app.py").write_bytes((ROOT / "examples" / "service" / "app.py").read_bytes())
    before = _tree(service)
    scratch = tmp_path / "tmp"
    scratch.mkdir()

    done = mendbot(
        "scan",
        "examples/asgi_service.log",
        "--repo",
        str(service),
        env_extra={"TMPDIR": str(scratch)},
    )

    assert done.returncode == 0, done.stderr
    assert "--- a/app.py\n+++ b/app.py\n@@ " in done.stdout
    assert '+    if body["user_id"] not in STATS["users"]:' in done.stdout
    assert "<NUM>" not in "".join(line for line in done.stdout.splitlines() if "fix_" in line)
    assert f"scratch git copy of {service}" in done.stderr
    copy = Path(done.stderr.split("TARGET_REPO_PATH=", 1)[1].split()[0])
    assert (copy / ".git").is_dir() and copy.is_relative_to(scratch) and (copy / "app.py").is_file()
    assert _tree(service) == before  # the folder given is only read
    assert not (service / ".git").exists()


def test_a_repo_that_is_not_a_folder_exits_2(mendbot, tmp_path: Path) -> None:
    done = mendbot("scan", "examples/asgi_service.log", "--repo", str(tmp_path / "nope"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"mendbot: cannot use --repo: {tmp_path / 'nope'} is not a folder"


def test_every_help_example_uses_paths_that_exist_from_the_repository_root() -> None:
    parser = build_parser()
    for command in ("scan", "eval"):
        text = parser._subparsers._group_actions[0].choices[command].format_help()  # type: ignore[union-attr]
        examples = [
            line.strip() for line in text.splitlines() if line.strip().startswith("mendbot ")
        ]
        assert examples, command
        for example in examples:
            for word in example.split()[2:]:
                if "/" in word and not word.startswith("-"):
                    assert (ROOT / word).exists(), f"{command} --help: {word}"
