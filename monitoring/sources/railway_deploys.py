"""Log sources' Railway seam: following the deployment of one commit (``deployments``).

After mendbot pushes a fix, Railway builds and deploys the commit. :class:`RailwayDeploys`
asks ``deployments(input: {serviceId, environmentId}, first)`` (newest first) and finds
the deployment whose ``meta.commitHash`` is the pushed commit (a full sha, or a prefix of
at least 7 hex digits either way), then maps Railway's ``DeploymentStatus``::

    SUCCESS, SLEEPING                          live (serving; ``statusUpdatedAt`` is live-at)
    FAILED, CRASHED                            failed
    QUEUED, WAITING, BUILDING, DEPLOYING,
    INITIALIZING, NEEDS_APPROVAL, SKIPPED,     pending (not serving the commit yet)
    REMOVING, REMOVED (never seen live)

A deployment already known (``deploy_id``) that Railway later REMOVED was replaced by a
newer one: it stays live as far as the fix is concerned; one that CRASHED is failed.

Errors are the Railway client's (:class:`~monitoring.sources.railway_api.RailwayAPI`): the
:class:`~monitoring.sources.base.LogSourceError` tree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from core.verification import DeployCheck
from monitoring.sources.base import LogSourceError, parse_iso_timestamp
from monitoring.sources.railway_api import RailwayAPI

DEPLOYMENTS_QUERY = """
query MendbotDeployments($input: DeploymentListInput!, $first: Int) {
  deployments(input: $input, first: $first) {
    edges { node { id status createdAt updatedAt statusUpdatedAt meta } }
  }
}
"""

LIVE_STATUSES = frozenset({"SUCCESS", "SLEEPING"})
FAILED_STATUSES = frozenset({"FAILED", "CRASHED"})
#: A deployment seen live that Railway later removed was replaced by a newer deploy.
REPLACED_STATUSES = frozenset({"REMOVED", "REMOVING"})
_MIN_PREFIX = 7


class RailwayDeploys:
    """The deployments of one Railway service in one environment, by commit.

    Args:
        api: the Railway client (token, retries).
        environment_id, service_id: the watched service instance.
        page_size: how many of the newest deployments each check reads.
    """

    name = "railway"

    def __init__(
        self, *, api: RailwayAPI, environment_id: str, service_id: str, page_size: int = 20
    ) -> None:
        self.api = api
        self.environment_id = environment_id
        self.service_id = service_id
        self.page_size = page_size

    def check(
        self,
        commit_sha: str,
        *,
        since: datetime,
        deploy_id: str | None = None,
        now: datetime,
    ) -> DeployCheck:
        """Where the deployment of ``commit_sha`` stands.

        Args:
            commit_sha: the pushed commit.
            since: when it was pushed (unused: Railway says when it went live).
            deploy_id: the deployment found earlier, if any (followed by id from then on).
            now: the current time (unused).

        Raises:
            LogSourceError: Railway failed or refused the token (see the module docstring).
        """
        nodes = self.deployments()
        if deploy_id is not None:
            node = next((n for n in nodes if n.get("id") == deploy_id), None)
            if node is not None:
                return _known(node)
        node = next((n for n in nodes if _same_commit(_commit_of(n), commit_sha)), None)
        if node is None:
            return DeployCheck(state="pending")
        return _found(node)

    def deployments(self) -> list[dict[str, Any]]:
        """The newest ``page_size`` deployments (``id``, ``status``, times, ``meta``).

        Raises:
            LogSourceError: as :meth:`check`, or an answer without ``deployments``.
        """
        data = self.api.query(
            DEPLOYMENTS_QUERY,
            {
                "input": {"serviceId": self.service_id, "environmentId": self.environment_id},
                "first": self.page_size,
            },
        )
        connection = data.get("deployments")
        if not isinstance(connection, dict):
            raise LogSourceError("Railway returned no deployments; check RAILWAY_SERVICE_ID")
        edges = connection.get("edges") or []
        return [e["node"] for e in edges if isinstance(e, dict) and isinstance(e.get("node"), dict)]


def _found(node: Mapping[str, Any]) -> DeployCheck:
    """A deployment of the commit, first sight."""
    status = str(node.get("status") or "")
    if status in LIVE_STATUSES:
        return DeployCheck(
            state="live", deploy_id=node.get("id"), status=status, live_at=_live_at(node)
        )
    if status in FAILED_STATUSES:
        return DeployCheck(state="failed", deploy_id=node.get("id"), status=status)
    return DeployCheck(state="pending", deploy_id=node.get("id"), status=status)


def _known(node: Mapping[str, Any]) -> DeployCheck:
    """A deployment followed by id: replaced (removed) after going live is still live."""
    status = str(node.get("status") or "")
    if status in REPLACED_STATUSES:
        return DeployCheck(state="live", deploy_id=node.get("id"), status=status)
    return _found(node)


def _live_at(node: Mapping[str, Any]) -> datetime | None:
    for key in ("statusUpdatedAt", "updatedAt", "createdAt"):
        value = node.get(key)
        if value:
            try:
                return parse_iso_timestamp(str(value))
            except ValueError:
                continue
    return None


def _commit_of(node: Mapping[str, Any]) -> str | None:
    """``meta.commitHash`` (``meta`` is Railway's JSON scalar: an object, or its text)."""
    meta = node.get("meta")
    if isinstance(meta, str):
        try:
            meta = json.loads(meta)
        except ValueError:
            return None
    if not isinstance(meta, dict):
        return None
    commit = meta.get("commitHash")
    return str(commit).strip().lower() if commit else None


def _same_commit(deployed: str | None, pushed: str) -> bool:
    if not deployed:
        return False
    pushed = pushed.strip().lower()
    if deployed == pushed:
        return True
    shorter, longer = sorted((deployed, pushed), key=len)
    return len(shorter) >= _MIN_PREFIX and longer.startswith(shorter)
