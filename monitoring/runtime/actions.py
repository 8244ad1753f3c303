"""Composition root, operational actions: the executors, the action runner, the trust policy."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from core.state import KeyValueStore
from fixes.actions.docker import DockerExecutor, own_container_ids
from fixes.actions.executors import CommandExecutor, Executor
from fixes.actions.railway import RailwayExecutor
from fixes.actions.runbook import Runbook
from fixes.actions.runner import ActionRunner
from fixes.actions.runs import ActionRuns
from fixes.actions.trust import TrustPolicy
from fixes.persistence.db import Database
from settings import Settings, secret_value, service_environment

#: Seconds each request to Railway's API for an action may take.
ACTION_HTTP_TIMEOUT_SECONDS = 20.0
#: Where the Docker Engine listens when DOCKER_HOST is unset.
DOCKER_SOCKET = Path("/var/run/docker.sock")


def build_action_runner(
    settings: Settings, *, db: Database, state: KeyValueStore, runbook: Runbook
) -> ActionRunner | None:
    """The runner of operational actions, or None with ``MENDBOT_REMEDIATION=off``.

    Executors: Railway (with a Railway token; mendbot's own service known from
    ``MENDBOT_SELF_SERVICE_ID``, ``RAILWAY_DEPLOYMENT_ID`` and ``RAILWAY_SERVICE_NAME``),
    Docker (with ``DOCKER_HOST`` or a socket at ``/var/run/docker.sock``; mendbot's own
    container from ``MENDBOT_SELF_CONTAINER``, the host name and ``/proc/self/cgroup``),
    and the runbook's commands.
    """
    if settings.remediation == "off":
        return None
    executors: dict[str, Executor] = {}
    token, project = secret_value(settings.railway_api_token), secret_value(settings.railway_token)
    if token or project:
        railway = RailwayExecutor(
            client=httpx.Client(timeout=ACTION_HTTP_TIMEOUT_SECONDS),
            api_url=settings.railway_api_url,
            environment_id=settings.railway_environment_id,
            api_token=token,
            project_token=project,
            self_service_ids=frozenset(filter(None, [settings.self_service_id])),
            self_deployment_id=settings.railway_deployment_id,
            self_service_name=settings.railway_service_name,
        )
        executors |= {"restart": railway, "redeploy": railway, "rollback": railway}
    if settings.docker_host or DOCKER_SOCKET.exists():
        own = own_container_ids(socket.gethostname()) | {settings.self_container or ""}
        executors["container_restart"] = DockerExecutor(base_url=settings.docker_host, self_ids=own)
    if runbook.commands:
        executors["command"] = CommandExecutor(
            commands=runbook.commands, environment=service_environment()
        )
    return ActionRunner(
        executors=executors,
        runs=ActionRuns(db),
        state=state,
        verify_seconds=settings.action_verify_seconds,
        breaker_failures=settings.breaker_failures,
        breaker_window_seconds=settings.breaker_window_seconds,
    )


def trust_policy(settings: Settings) -> TrustPolicy:
    """``MENDBOT_REMEDIATION`` over ``MENDBOT_TRUST``."""
    return TrustPolicy(master=settings.remediation, per_kind=settings.trust)  # type: ignore[arg-type]
