"""Fixes actions: restart, redeploy or roll back a Railway service through Railway's GraphQL API.

The mutations (names and arguments as in Railway's published schema)::

    restart    serviceInstance { latestDeployment { id } }  then  deploymentRestart(id)
    redeploy   serviceInstanceRedeploy(environmentId, serviceId)
    rollback   deployments(input: {serviceId, environmentId}) for the newest earlier
               deployment Railway can roll back to, then  deploymentRollback(id)

Authentication is the log source's: an account or team token (``RAILWAY_API_TOKEN``) as
``Authorization: Bearer``, or a project token (``RAILWAY_TOKEN``) as
``Project-Access-Token``. A mutation is sent once and never retried here (a retried
restart could restart twice); an unreachable API, 429 or 5xx is
:class:`~fixes.actions.errors.ActionUnavailable`, which the runner queues and retries.

Never on itself: mendbot's own service is known three ways, any of which refuses the
action: ``MENDBOT_SELF_SERVICE_ID``; the service of ``RAILWAY_DEPLOYMENT_ID``, which
Railway sets in mendbot's own container and operators do not override (asked once with
``deployment(id) { serviceId }``); and a target whose ``serviceName`` is mendbot's own
``RAILWAY_SERVICE_NAME``. A token that cannot see mendbot's own deployment (a project
token of the watched project, mendbot running elsewhere) cannot act on mendbot's service
either, so that answer clears the question rather than blocking every action.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from core.actions import Action
from core.clock import parse_retry_after
from fixes.actions.errors import ActionFailed, ActionRefused, ActionUnavailable

SERVICE_QUERY = """
query MendbotActionTarget($environmentId: String!, $serviceId: String!) {
  serviceInstance(environmentId: $environmentId, serviceId: $serviceId) {
    serviceName
    latestDeployment { id status }
  }
}
"""
SELF_QUERY = """
query MendbotSelf($id: String!) { deployment(id: $id) { id serviceId } }
"""
DEPLOYMENTS_QUERY = """
query MendbotRollbackCandidates($input: DeploymentListInput!, $first: Int) {
  deployments(input: $input, first: $first) {
    edges { node { id status createdAt canRollback } }
  }
}
"""
RESTART_MUTATION = """
mutation MendbotRestart($id: String!) { deploymentRestart(id: $id) }
"""
REDEPLOY_MUTATION = """
mutation MendbotRedeploy($environmentId: String!, $serviceId: String!) {
  serviceInstanceRedeploy(environmentId: $environmentId, serviceId: $serviceId)
}
"""
ROLLBACK_MUTATION = """
mutation MendbotRollback($id: String!) { deploymentRollback(id: $id) }
"""
#: Earlier deployments looked at for a rollback.
ROLLBACK_CANDIDATES = 10


class RailwayExecutor:
    """Carries out ``restart``, ``redeploy`` and ``rollback`` on Railway services.

    Args:
        client: an ``httpx.Client`` (its timeout applies to every request).
        api_url: ``RAILWAY_API_URL``.
        environment_id: ``RAILWAY_ENVIRONMENT_ID``, used unless the action's
            ``params["environment_id"]`` names another.
        api_token, project_token: ``RAILWAY_API_TOKEN`` / ``RAILWAY_TOKEN`` (one needed).
        self_service_ids: ``MENDBOT_SELF_SERVICE_ID`` (and any other id known to be mendbot).
        self_deployment_id: ``RAILWAY_DEPLOYMENT_ID`` as Railway set it in mendbot's container.
        self_service_name: ``RAILWAY_SERVICE_NAME`` as Railway set it in mendbot's container.

    Raises:
        ActionRefused: neither token is given.
    """

    def __init__(
        self,
        *,
        client: httpx.Client,
        api_url: str,
        environment_id: str | None,
        api_token: str | None = None,
        project_token: str | None = None,
        self_service_ids: frozenset[str] = frozenset(),
        self_deployment_id: str | None = None,
        self_service_name: str | None = None,
    ) -> None:
        if not (api_token or project_token):
            raise ActionRefused("Railway actions need RAILWAY_API_TOKEN or RAILWAY_TOKEN")
        self.client = client
        self.api_url = api_url
        self.environment_id = environment_id
        self._token_variable = "RAILWAY_API_TOKEN" if api_token else "RAILWAY_TOKEN"
        self._headers = (
            {"Authorization": f"Bearer {api_token}"}
            if api_token
            else {"Project-Access-Token": str(project_token)}
        )
        self._self_ids = set(self_service_ids)
        self._self_deployment_id = self_deployment_id
        self._self_name = self_service_name
        self._lock = threading.Lock()

    # --- Executor -------------------------------------------------------------------------------
    def refusal(self, action: Action) -> str | None:
        """Why ``action`` must not run on its target, or None.

        Raises:
            ActionUnavailable: Railway cannot be asked now.
            ActionFailed: Railway does not know the target service.
        """
        if action.target in self._own_ids():
            return f"{action.target} is mendbot's own Railway service; mendbot never acts on itself"
        instance = self._instance(action)
        if self._self_name and instance.get("serviceName") == self._self_name:
            return (
                f"{action.target} is named {self._self_name!r}, mendbot's own Railway "
                "service name; mendbot never acts on itself"
            )
        return None

    def run(self, action: Action) -> str:
        """Restart, redeploy or roll back ``action.target``.

        Raises:
            ActionRefused: it is mendbot's own service, or not a Railway kind.
            ActionUnavailable: Railway unreachable, 429 or 5xx.
            ActionFailed: Railway refused (token, ids, nothing to roll back to).
        """
        reason = self.refusal(action)
        if reason:
            raise ActionRefused(reason)
        environment = self._environment(action)
        if action.kind == "restart":
            deployment = self._latest_deployment(action)
            self._mutate(RESTART_MUTATION, {"id": deployment}, "deploymentRestart")
            return f"restarted deployment {deployment} of Railway service {action.target}"
        if action.kind == "redeploy":
            variables = {"environmentId": environment, "serviceId": action.target}
            self._mutate(REDEPLOY_MUTATION, variables, "serviceInstanceRedeploy")
            return f"redeployed Railway service {action.target}"
        if action.kind == "rollback":
            earlier = self._rollback_candidate(action)
            self._mutate(ROLLBACK_MUTATION, {"id": earlier}, "deploymentRollback")
            return f"rolled Railway service {action.target} back to deployment {earlier}"
        raise ActionRefused(f"Railway cannot carry out a {action.kind} action")

    # --- queries ------------------------------------------------------------------------------
    def _own_ids(self) -> set[str]:
        with self._lock:
            if self._self_deployment_id:
                try:
                    data = self._request(SELF_QUERY, {"id": self._self_deployment_id})
                except ActionFailed:  # not visible to this token: not in its reach either
                    data = {}
                service = (data.get("deployment") or {}).get("serviceId")
                if service:
                    self._self_ids.add(str(service))
                self._self_deployment_id = None  # asked once: it does not change
            return set(self._self_ids)

    def _environment(self, action: Action) -> str:
        environment = action.params.get("environment_id") or self.environment_id
        if not environment:
            raise ActionFailed("Railway actions need RAILWAY_ENVIRONMENT_ID")
        return environment

    def _instance(self, action: Action) -> dict[str, Any]:
        variables = {"environmentId": self._environment(action), "serviceId": action.target}
        instance = self._request(SERVICE_QUERY, variables).get("serviceInstance")
        if not isinstance(instance, dict):
            raise ActionFailed(f"Railway knows no service {action.target} in that environment")
        return instance

    def _latest_deployment(self, action: Action) -> str:
        latest = self._instance(action).get("latestDeployment") or {}
        if not latest.get("id"):
            raise ActionFailed(f"Railway service {action.target} has no deployment to restart")
        return str(latest["id"])

    def _rollback_candidate(self, action: Action) -> str:
        latest = self._latest_deployment(action)
        variables = {
            "input": {"serviceId": action.target, "environmentId": self._environment(action)},
            "first": ROLLBACK_CANDIDATES,
        }
        edges = (self._request(DEPLOYMENTS_QUERY, variables).get("deployments") or {}).get(
            "edges"
        ) or []
        nodes = [edge.get("node") or {} for edge in edges if isinstance(edge, dict)]
        nodes.sort(key=lambda node: str(node.get("createdAt") or ""), reverse=True)
        for node in nodes:
            if node.get("id") != latest and node.get("canRollback"):
                return str(node["id"])
        raise ActionFailed(
            f"Railway service {action.target} has no earlier deployment to roll back to"
        )

    def _mutate(self, mutation: str, variables: dict[str, Any], field: str) -> None:
        if self._request(mutation, variables).get(field) is not True:
            raise ActionFailed(f"Railway answered {field} without success")

    # --- the wire -----------------------------------------------------------------------------
    def _request(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.post(
                self.api_url, json={"query": query, "variables": variables}, headers=self._headers
            )
        except httpx.HTTPError as error:
            raise ActionUnavailable(
                f"Railway could not be reached: {error.__class__.__name__}"
            ) from error
        self._check_status(response)
        try:
            body = response.json()
        except ValueError as error:
            raise ActionFailed("Railway answered with something that is not JSON") from error
        errors = body.get("errors") or []
        if errors:
            raise self._graphql_error(errors)
        return body.get("data") or {}

    def _check_status(self, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300:
            return
        if status == 429 or status >= 500:
            raise ActionUnavailable(
                f"Railway answered HTTP {status}",
                retry_after_seconds=parse_retry_after(response.headers.get("Retry-After")),
            )
        if status in (401, 403):
            raise ActionFailed(
                f"Railway refused the token (HTTP {status}); check {self._token_variable}"
            )
        raise ActionFailed(f"Railway answered HTTP {status}")

    def _graphql_error(self, errors: list[Any]) -> ActionFailed:
        messages = "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )[:300]
        if "not authorized" in messages.lower():
            return ActionFailed(
                f'Railway refused the token in {self._token_variable} ("{messages}"); it must '
                "be allowed to deploy this service"
            )
        return ActionFailed(f"Railway said: {messages}")
