"""Fixes actions: the one small protocol every executor implements, and the command executor.

An executor carries out one kind of :class:`~core.actions.Action` once (no retries: a
retried restart could restart twice; :mod:`fixes.actions.runs` queues and retries) and
says in one sentence what it did. Before anything runs, :meth:`Executor.refusal` tells
whether the action would touch mendbot itself (then it never runs).
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from typing import Protocol

from core.actions import Action
from core.redact import scrub_secrets
from fixes.actions.errors import ActionFailed, ActionRefused

#: Characters of a failed command's output kept in the reason.
OUTPUT_TAIL_CHARS = 600


class Executor(Protocol):
    """Carries out actions of the kinds it was registered for."""

    def refusal(self, action: Action) -> str | None:
        """Why ``action`` must not run (it targets mendbot itself...), or None.

        Raises:
            ActionUnavailable: whether it is mendbot cannot be told now (API down).
        """
        ...

    def run(self, action: Action) -> str:
        """Carry out ``action`` once; returns what was done, e.g. ``"restarted dep-3"``.

        Raises:
            ActionRefused: it must not run (checked again right before acting).
            ActionUnavailable: the platform could not be reached (queued, retried).
            ActionFailed: the platform said no, or the command failed.
        """
        ...


class CommandExecutor:
    """Runs one of the runbook's cleanup commands (``sh -c``), by name.

    Args:
        commands: name -> shell command, from the runbook's ``commands``.
        environment: the environment the command runs with (mendbot's secrets removed).
        timeout_seconds: how long a command may run before it is killed (a failure).
    """

    def __init__(
        self,
        *,
        commands: Mapping[str, str],
        environment: Mapping[str, str],
        timeout_seconds: float = 300.0,
    ) -> None:
        self.commands = dict(commands)
        self.environment = dict(environment)
        self.timeout_seconds = timeout_seconds

    def refusal(self, action: Action) -> str | None:
        """Only commands the runbook lists may run."""
        if action.target not in self.commands:
            return f"there is no command named {action.target!r} in the runbook"
        return None

    def run(self, action: Action) -> str:
        """Run the named command; its exit status decides.

        Raises:
            ActionRefused: no such command.
            ActionFailed: it exited non-zero or ran past the timeout.
        """
        reason = self.refusal(action)
        if reason:
            raise ActionRefused(reason)
        try:
            done = subprocess.run(
                ["sh", "-c", self.commands[action.target]],
                capture_output=True,
                text=True,
                timeout=self.timeout_seconds,
                env=self.environment,
                check=False,
            )
        except subprocess.TimeoutExpired as error:
            raise ActionFailed(
                f"command {action.target!r} ran longer than {self.timeout_seconds:g} s"
            ) from error
        output = scrub_secrets((done.stdout + done.stderr)[-OUTPUT_TAIL_CHARS:]).strip()
        if done.returncode != 0:
            raise ActionFailed(
                f"command {action.target!r} exited {done.returncode}: {output or 'no output'}"
            )
        return f"ran command {action.target!r}" + (f": {output}" if output else "")
