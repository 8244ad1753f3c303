"""Fixes apply: validate a fix in the working tree before it is committed.

Three checks, in order, stopping at the first that fails:

1. ``compile``: every changed ``.py`` file is byte-compiled in memory (``compile()``; no
   ``.pyc`` is written into the service's tree).
2. ``import``: the changed modules are imported in a fresh ``python`` subprocess (this
   interpreter, repository root and ``src/`` first on ``sys.path``, bytecode writing off,
   mendbot's own secrets removed from the environment). The service's third-party
   dependencies are often not installed where mendbot runs, so a
   ``ModuleNotFoundError`` for a module outside the repository that the *unchanged* code
   also lacks (:meth:`Validator.baseline`, run before the first write) is reported as
   skipped, not as a failure: it is the environment's gap, not the fix's. A missing
   module that the change introduces, or any other exception at import time, fails.
   The limit of that choice: such a module is only checked up to its first missing
   import; ``compile`` still covers the whole file and ``VALIDATE_COMMAND`` (run where the
   dependencies exist) is the real test.
3. ``command``: ``VALIDATE_COMMAND`` through the shell, cwd = repository root, killed
   with its whole process group after ``timeout_seconds``.

Results, not exceptions: :meth:`Validator.validate` returns a :class:`ValidationReport`
whose ``output`` is the tail of what failed, scrubbed of tokens.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.redact import scrub_secrets
from settings import service_environment

#: Characters of output kept from a failing check (its end, where errors are).
OUTPUT_TAIL_CHARS = 4000
_MARKER = "__MENDBOT_IMPORT_RESULT__"
_IMPORT_SCRIPT = f"""
import importlib, json, sys, traceback
results = {{}}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
        results[name] = {{"status": "ok"}}
    except ModuleNotFoundError as error:
        results[name] = {{"status": "missing", "missing": error.name or "",
                         "error": traceback.format_exc(limit=-3)}}
    except BaseException as error:
        results[name] = {{"status": "error", "error": traceback.format_exc(limit=-5)}}
sys.stdout.flush()
print("\\n{_MARKER}" + json.dumps(results))
"""


@dataclass
class ValidationReport:
    """What validation found.

    Attributes:
        ok: every check passed (or was skipped).
        checks: one line per check done, e.g. ``"compile: 2 file(s)"``.
        failed_check: ``compile``, ``import`` or ``command`` when one failed.
        output: the failing check's output tail (scrubbed), else "".
        seconds: wall time of the whole validation.
    """

    ok: bool
    checks: list[str] = field(default_factory=list)
    failed_check: str | None = None
    output: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class ImportBaseline:
    """Top-level module names that the unchanged code already fails to import."""

    missing: frozenset[str] = frozenset()


class Validator:
    """Runs the checks for one repository.

    Args:
        repo_root: the working tree root.
        command: ``VALIDATE_COMMAND`` (shell), or None to skip that check.
        timeout_seconds: limit for the command and for the import subprocess.
        import_check: False skips the import check.
        python: the interpreter for the import check (default: this one).
        environment: what the service's code runs with; default
            :func:`settings.service_environment` (this process's, without mendbot's own
            configuration and secrets).
    """

    def __init__(
        self,
        *,
        repo_root: Path,
        command: str | None,
        timeout_seconds: float,
        import_check: bool = True,
        python: str = sys.executable,
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.repo_root = repo_root
        self.command = command.strip() if command and command.strip() else None
        self.timeout_seconds = timeout_seconds
        self.import_check = import_check
        self.python = python
        self.environment = dict(environment) if environment is not None else service_environment()

    def baseline(self, paths: Sequence[str]) -> ImportBaseline:
        """Import the existing modules among ``paths`` before the change.

        Args:
            paths: repository-relative paths the fix will write.

        Returns:
            The missing third-party modules to forgive later.
        """
        modules = [m for m in self._modules(paths, existing_only=True) if m]
        if not self.import_check or not modules:
            return ImportBaseline()
        results, _ = self._import(modules)
        missing = {
            r["missing"].split(".")[0]
            for r in results.values()
            if r.get("status") == "missing" and r.get("missing")
        }
        return ImportBaseline(frozenset(m for m in missing if not self._in_repo(m)))

    def validate(self, paths: Sequence[str], baseline: ImportBaseline) -> ValidationReport:
        """Run compile, import and command checks on the changed ``paths``.

        Args:
            paths: repository-relative paths the fix wrote.
            baseline: from :meth:`baseline`, taken before the change.
        """
        started = time.monotonic()
        report = ValidationReport(ok=True)
        for check in (self._compile, self._imports, self._command):
            check(paths, baseline, report)
            if not report.ok:
                break
        report.seconds = time.monotonic() - started
        return report

    # --- the checks ------------------------------------------------------------------------
    def _compile(self, paths: Sequence[str], _b: ImportBaseline, report: ValidationReport) -> None:
        python = [p for p in paths if p.endswith(".py")]
        for path in python:
            source = (self.repo_root / path).read_bytes()
            try:
                compile(source, path, "exec", dont_inherit=True)
            except (SyntaxError, ValueError) as error:
                self._fail(report, "compile", f"{path}: {type(error).__name__}: {error}")
                return
        if python:
            report.checks.append(f"compile: {len(python)} file(s)")

    def _imports(
        self, paths: Sequence[str], baseline: ImportBaseline, report: ValidationReport
    ) -> None:
        modules = [m for m in self._modules(paths, existing_only=False) if m]
        if not self.import_check or not modules:
            return
        results, raw = self._import(modules)
        if not results:
            self._fail(report, "import", raw or "the import check produced no result")
            return
        skipped = []
        for name in modules:
            result = results.get(name, {"status": "error", "error": raw})
            missing = str(result.get("missing", "")).split(".")[0]
            if result["status"] == "missing" and missing in baseline.missing:
                skipped.append(f"{name} (needs {missing}, not installed here)")
            elif result["status"] != "ok":
                self._fail(report, "import", f"import {name} failed:\n{result.get('error')}")
                return
        line = f"import: {len(modules) - len(skipped)} module(s)"
        report.checks.append(line + (f"; skipped {', '.join(skipped)}" if skipped else ""))

    def _command(self, _p: Sequence[str], _b: ImportBaseline, report: ValidationReport) -> None:
        if self.command is None:
            return
        started = time.monotonic()
        status, output = self.run_shell(self.command)
        took = time.monotonic() - started
        if status is None:
            self._fail(
                report,
                "command",
                f"{output}\n[VALIDATE_COMMAND timed out after "
                f"{self.timeout_seconds:g} s and was killed]",
            )
        elif status != 0:
            self._fail(report, "command", f"{output}\n[VALIDATE_COMMAND exited {status}]")
        else:
            shown = scrub_secrets(self.command)
            report.checks.append(f"command: `{shown}` passed in {took:.1f} s")

    # --- helpers ---------------------------------------------------------------------------
    def _fail(self, report: ValidationReport, check: str, output: str) -> None:
        report.ok = False
        report.failed_check = check
        report.output = tail(output)

    def _modules(self, paths: Sequence[str], *, existing_only: bool) -> list[str | None]:
        names = []
        for path in paths:
            if existing_only and not (self.repo_root / path).is_file():
                continue
            names.append(module_name(path, has_src=(self.repo_root / "src").is_dir()))
        return names

    def _in_repo(self, top_level: str) -> bool:
        for base in (self.repo_root, self.repo_root / "src"):
            if (base / f"{top_level}.py").is_file() or (base / top_level).is_dir():
                return True
        return False

    def _import(self, modules: list[str]) -> tuple[dict[str, dict[str, str]], str]:
        env = dict(self.environment)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        roots = [str(self.repo_root / "src"), str(self.repo_root)]
        env["PYTHONPATH"] = os.pathsep.join(
            roots + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        )
        status, output = self._run([self.python, "-c", _IMPORT_SCRIPT, *modules], env=env)
        marker = output.rfind(_MARKER)
        if status is None or marker < 0:
            note = "timed out" if status is None else f"exited {status}"
            return {}, f"{output}\n[import check {note}]"
        try:
            return json.loads(output[marker + len(_MARKER) :].strip()), output[:marker]
        except json.JSONDecodeError:
            return {}, output

    def run_shell(self, command: str) -> tuple[int | None, str]:
        """Run ``command`` through the shell in the repository, with the service's
        environment and ``timeout_seconds``; returns (exit status or None when it timed
        out and was killed, output)."""
        env = dict(self.environment)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return self._run(command, env=env, shell=True)

    def _run(
        self, command: str | list[str], *, env: dict[str, str], shell: bool = False
    ) -> tuple[int | None, str]:
        """Run to completion or the timeout; returns (exit status or None, output)."""
        process = subprocess.Popen(
            command,
            cwd=self.repo_root,
            env=env,
            shell=shell,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            out, _ = process.communicate(timeout=self.timeout_seconds)
            return process.returncode, out.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            _kill_group(process)
            out, _ = process.communicate()
            return None, out.decode("utf-8", "replace")
        except BaseException:
            _kill_group(process)
            process.wait()
            raise


def module_name(path: str, *, has_src: bool = False) -> str | None:
    """The dotted module name of a repository-relative ``.py`` path, or None.

    ``pkg/mod.py`` -> ``pkg.mod``, ``pkg/__init__.py`` -> ``pkg``, ``src/pkg/a.py`` ->
    ``pkg.a`` when the repository has a ``src/`` directory; None for non-Python files
    and paths that are not importable names (``scripts/my-tool.py``).
    """
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    if has_src and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(part.isidentifier() for part in parts):
        return None
    return ".".join(parts)


def tail(text: str, max_chars: int = OUTPUT_TAIL_CHARS) -> str:
    """The last ``max_chars`` characters of ``text``, scrubbed of tokens."""
    text = text.strip()
    if len(text) > max_chars:
        text = "[...]\n" + text[-max_chars:]
    return scrub_secrets(text)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
