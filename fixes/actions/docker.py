"""Fixes actions: restart a Docker container through the Docker Engine API (the ``docker`` SDK).

The Engine is reached at ``DOCKER_HOST`` (``unix:///var/run/docker.sock`` by default, or
``tcp://...``); the client is made on first use, so a daemon that is down at start only
queues the first action. Requests: ``GET /version`` (API version negotiation),
``GET /containers/{id}/json`` (who it is) and ``POST /containers/{id}/restart?t=10``.

Never on itself: the target's id, name and hostname are compared with mendbot's own
container, known from ``MENDBOT_SELF_CONTAINER`` (a name or id), the host name (Docker
sets it to the short container id) and the container id in ``/proc/self/cgroup`` or
``/proc/self/mountinfo`` (:func:`own_container_ids`).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from core.actions import Action
from fixes.actions.errors import ActionFailed, ActionRefused, ActionUnavailable

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
#: Seconds Docker waits for the container to stop before killing it.
STOP_TIMEOUT_SECONDS = 10
_CONTAINER_ID = re.compile(r"\b([0-9a-f]{64})\b")


def own_container_ids(
    hostname: str, files: Iterable[Path] = (Path("/proc/self/cgroup"), Path("/proc/self/mountinfo"))
) -> frozenset[str]:
    """What identifies the container this process runs in: its host name, and any
    64-hex container id found in ``/proc/self/cgroup`` or ``/proc/self/mountinfo``."""
    found = {hostname} if hostname else set()
    for path in files:
        try:
            found.update(_CONTAINER_ID.findall(path.read_text(errors="replace")))
        except OSError:
            continue
    return frozenset(found)


class DockerExecutor:
    """Carries out ``container_restart`` through the Docker Engine API.

    Args:
        base_url: ``DOCKER_HOST`` (default ``unix:///var/run/docker.sock``).
        self_ids: names, ids and host names that are mendbot's own container.
        timeout_seconds: per Engine API request.
        client_factory: builds the SDK client from ``base_url`` (tests may pass one).
    """

    def __init__(
        self,
        *,
        base_url: str | None = None,
        self_ids: frozenset[str] = frozenset(),
        timeout_seconds: float = 30.0,
        client_factory: Callable[[str], Any] | None = None,
    ) -> None:
        self.base_url = base_url or DEFAULT_DOCKER_HOST
        self.self_ids = frozenset(i.lstrip("/") for i in self_ids if i)
        self.timeout_seconds = timeout_seconds
        self._factory = client_factory or self._sdk_client
        self._client: Any = None
        self._lock = threading.Lock()

    def refusal(self, action: Action) -> str | None:
        """Why ``action`` must not run on its container (mendbot's own), or None.

        Raises:
            ActionUnavailable: the Engine cannot be reached.
            ActionFailed: there is no such container.
        """
        attrs = self._inspect(action.target)
        mine = {
            str(attrs.get("Id") or ""),
            str(attrs.get("Name") or "").lstrip("/"),
            str((attrs.get("Config") or {}).get("Hostname") or ""),
        }
        for own in self.self_ids:
            if own in mine or (len(own) >= 12 and str(attrs.get("Id") or "").startswith(own)):
                return (
                    f"container {action.target} is mendbot's own container; "
                    "mendbot never acts on itself"
                )
        return None

    def run(self, action: Action) -> str:
        """Restart the container ``action.target``.

        Raises:
            ActionRefused: it is mendbot's own container.
            ActionUnavailable: the Engine cannot be reached or answered 5xx.
            ActionFailed: no such container, or the Engine refused.
        """
        reason = self.refusal(action)
        if reason:
            raise ActionRefused(reason)
        self._call(lambda c: c.api.restart(action.target, timeout=STOP_TIMEOUT_SECONDS))
        return f"restarted Docker container {action.target}"

    def _inspect(self, target: str) -> dict[str, Any]:
        return dict(self._call(lambda c: c.api.inspect_container(target)))

    def _call(self, fn: Callable[[Any], Any]) -> Any:
        import docker.errors
        import requests

        try:
            return fn(self._sdk())
        except docker.errors.NotFound as error:
            raise ActionFailed(f"Docker has no such container ({_explain(error)})") from error
        except docker.errors.APIError as error:
            status = error.status_code or 0
            if status >= 500 or status == 429:
                raise ActionUnavailable(f"Docker answered HTTP {status}") from error
            raise ActionFailed(f"Docker refused: {_explain(error)}") from error
        except (requests.exceptions.RequestException, docker.errors.DockerException) as error:
            with self._lock:
                self._client = None  # make a fresh client next time
            raise ActionUnavailable(
                f"the Docker Engine at {self.base_url} could not be reached: "
                f"{error.__class__.__name__}"
            ) from error

    def _sdk(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self._factory(self.base_url)
            return self._client

    def _sdk_client(self, base_url: str) -> Any:
        import docker

        return docker.DockerClient(
            base_url=base_url, version="auto", timeout=int(self.timeout_seconds)
        )


def _explain(error: Any) -> str:
    return str(getattr(error, "explanation", None) or error)[:200]
