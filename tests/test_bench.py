"""The benchmarks still run: grouping and scan on tiny inputs (figures are not asserted)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

EXCERPT = ROOT / "tests" / "data" / "asgi_excerpt.log"


def run_bench(script: str, *argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *argv],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=180,
        check=False,
    )


def _loghub_like(root: Path, name: str, rows: list[tuple[str, str]]) -> None:
    folder = root / name
    folder.mkdir(parents=True)
    with (folder / f"{name}_2k.log_structured.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["LineId", "Content", "EventId", "EventTemplate"])
        for index, (content, event) in enumerate(rows, 1):
            writer.writerow([index, content, event, f"template {event}"])
    (folder / f"{name}_2k.log").write_text("\n".join(c for c, _ in rows) + "\n")


def test_grouping_bench_json(tmp_path: Path) -> None:
    rows = [
        (f"Accepted password for user{i} from 10.0.0.{i} port {2000 + i} ssh2", "E1")
        for i in range(30)
    ]
    rows += [(f"Connection closed by 10.0.1.{i} [preauth]", "E2") for i in range(30)]
    rows += [(f"session opened for user root by (uid={i})", "E3") for i in range(30)]
    _loghub_like(tmp_path, "Tiny", rows)
    done = run_bench("grouping.py", str(tmp_path), "--json", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    (result,) = output["datasets"]
    assert set(result) == {
        "name",
        "lines",
        "ga",
        "pa",
        "lines_per_s",
        "drain3_ga",
        "drain3_pa",
        "drain3_lines_per_s",
        "brain_ga",
        "brain_pa",
        "brain_lines_per_s",
    }
    assert result["name"] == "Tiny" and result["ga"] == 1.0
    assert 0.0 <= result["drain3_ga"] <= 1.0 and result["lines_per_s"] > 0
    # Brain has no benchmark settings for an unknown system: its column is empty, said so.
    assert result["brain_ga"] is None and output["brain"]
    assert output["summary"]["mean_ga"] == 1.0


def test_grouping_bench_without_data(tmp_path: Path) -> None:
    done = run_bench("grouping.py", str(tmp_path))
    assert done.returncode == 2 and "no <System>" in done.stderr


def test_scan_bench_json(tmp_path: Path) -> None:
    (tmp_path / "applogs").mkdir()
    (tmp_path / "applogs" / "asgi_service.log").write_bytes(EXCERPT.read_bytes())
    _loghub_like(tmp_path / "loghub", "Tiny", [(f"job {i} done in {i}ms", "E1") for i in range(50)])
    done = run_bench("scan.py", "--lines", "3000", "--data", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["lines"] == 3000
    results = summary["results"]
    assert set(results) == {"read", "scan", "scan_unique", "drain3"}
    assert results["scan"]["lines"] == 3000 and results["scan"]["anomalies"] >= 7
    assert results["scan"]["peak_rss_mb"] > 0 and results["scan"]["lines_per_s"] > 0


def test_masking_bench_json() -> None:
    done = run_bench("masking.py", str(EXCERPT), "--json", "--repeats", "1")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["lines"] > 0 and result["whole_text_chars_per_s"] > 0
    assert result["reference_detect_secrets_per_line_chars_per_s"] > 0
    assert run_bench("masking.py", str(ROOT / "no-such.log")).returncode == 2
