"""Fixes actions: the errors an action can end in, translated where third-party errors enter.

::

    ActionError              the action did not run as asked (base; not retried)
    ├── ActionRefused        it must not run: mendbot's own service or container, no
    │                        executor for its kind, an unknown command
    ├── ActionUnavailable    the platform's API could not be reached, 429 or 5xx: the
    │                        action is queued and retried with backoff
    └── ActionFailed         the platform answered and said no (or the command failed)

:func:`is_retryable` is the one place that decides what is queued for another try.
"""

from __future__ import annotations


class ActionError(Exception):
    """An action did not run as asked; ``str(e)`` is a sentence for people (no secrets)."""


class ActionRefused(ActionError):
    """The action must not run (it would act on mendbot itself, or nothing can run it)."""


class ActionUnavailable(ActionError):
    """The platform could not be reached or asked us to slow down (retryable).

    Attributes:
        retry_after_seconds: the server's ``Retry-After``, when it sent one.
    """

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ActionFailed(ActionError):
    """The platform refused the action, or the command exited with an error."""


def is_retryable(error: BaseException) -> bool:
    """True for errors worth another try later: :class:`ActionUnavailable` only."""
    return isinstance(error, ActionUnavailable)
