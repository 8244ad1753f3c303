"""Fixes apply: prove a fix with its regression test: it fails before, and passes after.

A proposal may carry a regression test (``tests/mendbot/test_<fix id>.py``). The
transaction writes it alone first and runs it on the unfixed tree, then writes the fix:

======================  ==============================================================
before the fix          what follows
======================  ==============================================================
fails with the logged   the failure is reproduced: after the fix and the other checks,
exception (or, without  the test runs again and must pass, else everything is rolled
one, an assertion)      back ("the regression test still fails"); the test is
                        committed with the fix: **proven**
passes, fails another   no proof: the test is removed (it does not show the bug, so it
way, cannot be          is not worth keeping) and the fix goes on without it
collected, times out
======================  ==============================================================

The test runs as ``MENDBOT_TEST_COMMAND <path>`` (default ``python -m pytest -q -p
no:cacheprovider``) through the shell, in the repository, with the environment
``VALIDATE_COMMAND`` gets. pytest's exit status says pass (0) or test failures (1); the
logged exception is looked for in pytest's report of the failing test: an ``E   <Type>``
line, the short summary's ``FAILED ... - <Type>``, or a line starting ``<Type>:`` (the end
of a traceback in the captured log, when the app turns the exception into a 500 and logs
it, as many do).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Literal

from fixes.apply.validation import Validator, tail

#: pytest's exit status when tests ran and some failed (collection errors are 2).
PYTEST_TESTS_FAILED = 1
_COLLECTION_ERROR = re.compile(
    r"^ERROR collecting|^E\s+(?:ModuleNotFoundError|ImportError)\b", re.M
)

Verdict = Literal["passed", "reproduced", "failed_otherwise"]


@dataclass(frozen=True)
class RegressionPlan:
    """The regression test an apply runs: where it is and what it must fail with.

    Attributes:
        path: repository-relative, ``tests/mendbot/test_<fix id>.py``.
        fails_with: the logged exception's class name, None for an assertion.
        command: ``MENDBOT_TEST_COMMAND``.
    """

    path: str
    fails_with: str | None
    command: str


@dataclass(frozen=True)
class ProofRun:
    """One run of a regression test.

    Attributes:
        verdict: ``passed``; ``reproduced`` (failed with the logged exception, or with an
            assertion when none was logged); ``failed_otherwise`` (another exception, a
            collection error, a timeout, no test found).
        output: the tail of pytest's output, scrubbed of tokens.
    """

    verdict: Verdict
    output: str


def run_test(validator: Validator, plan: RegressionPlan) -> ProofRun:
    """Run the regression test and judge its outcome.

    Args:
        validator: runs the command with the service's environment and timeout.
        plan: the test (``fails_with`` ``json.decoder.JSONDecodeError`` is looked for as
            ``JSONDecodeError``; None means an assertion failure reproduces).
    """
    fails_with = plan.fails_with
    status, output = validator.run_shell(f"{plan.command} {shlex.quote(plan.path)}")
    shown = tail(output)
    if status == 0:
        return ProofRun("passed", shown)
    if status != PYTEST_TESTS_FAILED or _COLLECTION_ERROR.search(output):
        return ProofRun("failed_otherwise", shown)
    name = re.escape((fails_with or "AssertionError").rsplit(".", 1)[-1])
    pattern = rf"^(?:E\s+)?(?:[\w.]+\.)?{name}(?::|$)|^FAILED \S+ - (?:[\w.]+\.)?{name}\b"
    if fails_with is None:
        pattern += r"|^E\s+assert "
    failed_with = re.compile(pattern, re.M)
    return ProofRun("reproduced" if failed_with.search(output) else "failed_otherwise", shown)
