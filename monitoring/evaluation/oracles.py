"""Fix evaluation: run a case's oracle tests, and its own tests, in the case's virtualenv.

All oracles of a case run in ONE pytest process (a few hundred milliseconds, not one
interpreter start per incident), from a scratch copy of their folders so that nothing is
written into the case or the service's repository. A small pytest plugin written beside
them records each test's outcome by file; an oracle *passes* when it ran at least one
test and every test passed (a skip is not a pass: it proves nothing). The service is
imported by the oracles from ``$MENDBOT_EVAL_REPO``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from fixes.apply.validation import service_environment
from monitoring.evaluation.venvs import bin_dir

#: Seconds one pytest run (all oracles of a case, or the service's tests) may take.
RUN_TIMEOUT_SECONDS = 300.0
REPO_ENV = "MENDBOT_EVAL_REPO"
_RESULTS_ENV = "MENDBOT_EVAL_RESULTS"
_PLUGIN = "_mendbot_eval_plugin"
_PLUGIN_SOURCE = """
import json, os
RESULTS = {}

def _add(nodeid, outcome):
    RESULTS.setdefault(nodeid.split("::")[0], []).append(outcome)

def pytest_collectreport(report):
    if report.failed:
        _add(report.nodeid, "error")

def pytest_runtest_logreport(report):
    if report.when == "call":
        _add(report.nodeid, report.outcome)
    elif report.outcome != "passed":
        _add(report.nodeid, "error" if report.failed else report.outcome)

def pytest_sessionfinish(session):
    with open(os.environ["MENDBOT_EVAL_RESULTS"], "w") as out:
        json.dump(RESULTS, out)
"""


def environment(venv: Path, **extra: str) -> dict[str, str]:
    """The service's environment (mendbot's own settings removed) with ``venv`` first on
    ``PATH``, bytecode writing off, and ``extra`` on top."""
    env = service_environment()
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    env["PATH"] = f"{bin_dir(venv)}:{env.get('PATH', '')}"
    env["VIRTUAL_ENV"] = str(venv)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def run_oracles(
    oracles: Sequence[Path], *, case_root: Path, repo: Path, venv: Path
) -> dict[Path, bool]:
    """Run the oracle files against the service at ``repo``.

    Args:
        oracles: oracle test files inside ``case_root``.
        case_root: the case folder (their folders are copied relative to it).
        repo: the checkout the oracles import the service from (``$MENDBOT_EVAL_REPO``).
        venv: the case's virtualenv (its python runs pytest).

    Returns:
        Each oracle file -> True when it passed. A crash or a timeout of pytest fails all.
    """
    if not oracles:
        return {}
    with tempfile.TemporaryDirectory(prefix="mendbot-oracles-") as scratch:
        run = Path(scratch)
        for folder in {o.parent for o in oracles}:
            shutil.copytree(folder, run / folder.relative_to(case_root), dirs_exist_ok=True)
        (run / f"{_PLUGIN}.py").write_text(_PLUGIN_SOURCE, encoding="utf-8")
        (run / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
        results = run / "results.json"
        files = [str(o.relative_to(case_root)) for o in oracles]
        command = ["python", "-m", "pytest", "-q", "-p", _PLUGIN, "-p", "no:cacheprovider"]
        env = environment(venv, **{REPO_ENV: str(repo), _RESULTS_ENV: str(results)})
        _run([*command, *files], cwd=run, env=env)
        outcomes = _read(results)
    return {o: _passed(outcomes.get(str(o.relative_to(case_root)))) for o in oracles}


def run_service_tests(command: str | None, *, repo: Path, venv: Path) -> bool | None:
    """``validate_command`` in ``repo`` with the venv first on PATH: True when it exits 0;
    None when the case has no command."""
    if not command:
        return None
    status, _output = _run(command, cwd=repo, env=environment(venv), shell=True)
    return status == 0


def _run(
    command: str | list[str], *, cwd: Path, env: dict[str, str], shell: bool = False
) -> tuple[int | None, str]:
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env=env,
            shell=shell,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT_SECONDS,
        )
    except subprocess.TimeoutExpired:
        return None, f"timed out after {RUN_TIMEOUT_SECONDS:g} s"
    return result.returncode, result.stdout + result.stderr


def _read(results: Path) -> dict[str, list[str]]:
    try:
        data = json.loads(results.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _passed(outcomes: list[str] | None) -> bool:
    return bool(outcomes) and all(o == "passed" for o in outcomes or [])
