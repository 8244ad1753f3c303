"""Benchmark: resident memory of ``mendbot run`` idling between cycles (target < 150 MB).

Starts ``mendbot run`` as a real process against the test suite's fake Railway, Slack
and OpenAI-compatible servers (``tests/fakes/``), a SQLite file and a git checkout of the
example service, with a 2-second interval. An incident is appended to the fake Railway
logs so that a cycle runs an LM diagnosis (the most memory a cycle pulls in); then the
process's VmRSS is sampled between the next cycles. The reference, in the same run, is a
bare interpreter that only imports the libraries mendbot runs on.

    python bench/idle_rss.py [--cycles N] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.openai import FakeOpenAI  # noqa: E402
from tests.fakes.railway import FakeRailway  # noqa: E402
from tests.fakes.slack import FakeSlack  # noqa: E402
from tests.test_run_e2e import Scene, lm_answer, uvicorn_key_error, wait_until  # noqa: E402

TARGET_MB = 150.0
REFERENCE_IMPORTS = (
    "import slack_bolt, slack_sdk, sqlmodel, git, httpx, apscheduler, drain3, rich, dspy"
)


def rss_mb(pid: int) -> float:
    """VmRSS of process ``pid`` in MB (from /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def reference_mb() -> float:
    """RSS of an interpreter that imports mendbot's libraries and nothing of mendbot."""
    code = f"{REFERENCE_IMPORTS}; import time; print('ready', flush=True); time.sleep(30)"
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == b"ready"
        return rss_mb(process.pid)
    finally:
        process.kill()
        process.wait()


def measure(cycles: int) -> dict[str, float]:
    """Idle RSS samples of ``mendbot run`` after an LM diagnosis: max and last, in MB."""
    with (
        tempfile.TemporaryDirectory() as tmp,
        FakeRailway() as railway,
        FakeSlack() as slack,
        FakeOpenAI() as llm,
    ):
        llm.respond_with(lm_answer)
        railway.deploy("dep-1", created_at=datetime.now(UTC) - timedelta(days=1))
        scene = Scene(Path(tmp), railway, slack, llm)
        bot = scene.start()
        try:
            bot.wait_cycles(1)
            lines = [line for n in range(4) for line in uvicorn_key_error(f"ghost{n}")]
            railway.add_logs(
                "dep-1",
                lines,
                severity="error",
                at=datetime.now(UTC) - timedelta(milliseconds=500),
                step=timedelta(microseconds=1),
            )
            wait_until("an LM diagnosis", lambda: len(llm.requests) >= 2, 60)
            samples = []
            for _ in range(cycles):
                bot.wait_cycles(1)
                time.sleep(0.5)  # between cycles
                samples.append(rss_mb(bot.process.pid))
        finally:
            bot.process.terminate()
            bot.process.wait(30)
    return {"idle_max_mb": max(samples), "idle_last_mb": samples[-1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=5, help="idle cycles to sample (5)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    figures = {
        **measure(args.cycles),
        "reference_imports_mb": reference_mb(),
        "target_mb": TARGET_MB,
    }
    if args.json:
        print(json.dumps(figures))
    else:
        print(
            f"mendbot run, idle after an LM diagnosis: max {figures['idle_max_mb']:.1f} MB, "
            f"last {figures['idle_last_mb']:.1f} MB over {args.cycles} cycles "
            f"(target < {TARGET_MB:.0f} MB)"
        )
        print(
            f"reference: interpreter importing mendbot's libraries: "
            f"{figures['reference_imports_mb']:.1f} MB"
        )
    return 0 if figures["idle_max_mb"] < TARGET_MB else 1


if __name__ == "__main__":
    sys.exit(main())
