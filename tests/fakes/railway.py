"""Test support: a fake Railway public GraphQL API that checks every query against the schema.

Every POST to ``/graphql/v2`` is parsed and validated with graphql-core against Railway's
published introspection schema (``../shared/data/railway/schema.json``); an invalid query
gets HTTP 400 with GraphQL ``errors`` and is recorded in :attr:`FakeRailway.invalid`, so
a misspelt field or a wrong argument type fails the test as it would fail on Railway.
Valid queries are executed against an in-memory service: deployments with their logs.

Behaviours modelled on Railway's:

- ``Authorization: Bearer <token>`` (account/team tokens) or ``Project-Access-Token``;
  an unknown token is answered with HTTP 200 and ``errors: [{"message": "Not
  Authorized"}]`` and ``data: null``.
- ``deploymentLogs(startDate, endDate, limit)``: logs in the window (both ends
  inclusive), oldest first; when more than ``limit`` match, the newest ``limit`` are
  kept (``keep="oldest"`` keeps the oldest), optionally one extra as Railway sometimes
  sends (``extra_on_full=True``).
- ``serviceInstance { latestDeployment activeDeployments }``: a deployment that reaches
  SUCCESS replaces the active ones (REMOVED), one that fails stops being active, and the
  active ones keep serving while a new one builds (:meth:`FakeRailway.set_status`).
- ``deployments(input: {serviceId, environmentId}, first)``: the service's deployments,
  newest first, as a connection (``edges { node }``), each with ``status``,
  ``statusUpdatedAt`` (moved by every status change) and ``meta`` (``commitHash``,
  ``branch``... as Railway records for a deploy from GitHub).
- Queued failures (:meth:`FakeRailway.fail_next`) answer the next requests, e.g. 429 with
  ``Retry-After`` or a 503, before real answers resume.
- The mutations mendbot's actions use: ``deploymentRestart(id)`` and
  ``deploymentRollback(id)`` (a known deployment, else "Deployment not found"),
  ``serviceInstanceRedeploy(environmentId, serviceId)``; each is recorded in
  :attr:`FakeRailway.actions`, and :attr:`FakeRailway.refuse_actions` makes them fail as
  Railway does (HTTP 200, a GraphQL error). ``deployment(id) { serviceId }`` knows this
  service's deployments and those in :attr:`FakeRailway.other_deployments`;
  ``deployments(input)`` lists this service's, newest first, with ``canRollback``.

Usage::

    with FakeRailway() as railway:
        railway.add_logs("dep-1", ["INFO starting", "ERROR boom"])
        source = RailwaySource(client=httpx.Client(), api_url=railway.api_url, ...)
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import graphql

from tests.fakes.server import FakeServer, Reply, Request

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "railway" / "schema.json"
)
GRAPHQL_PATH = "/graphql/v2"


@cache
def railway_schema() -> graphql.GraphQLSchema:
    """Railway's schema, built once per test process from the introspection JSON.

    The published schema has one inconsistency graphql-core refuses to execute against:
    ``Team.id`` is deprecated while the ``Node.id`` it implements is not. That one flag is
    cleared (deprecation does not affect which queries validate); any other schema
    problem still fails loudly.
    """
    document = json.loads(SCHEMA_PATH.read_text())
    introspection = document.get("data", document)
    for kind in introspection["__schema"]["types"]:
        if kind["name"] == "Team":
            for item in kind.get("fields") or []:
                if item["name"] == "id":
                    item["isDeprecated"], item["deprecationReason"] = False, None
    schema = graphql.build_client_schema(introspection)
    problems = graphql.validate_schema(schema)
    if problems:
        raise AssertionError(f"Railway schema does not validate: {problems[0].message}")
    return schema


def stamp(moment: datetime, nanos: int = 0) -> str:
    """Railway's timestamp text: RFC 3339 UTC with nine fractional digits."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond * 1000 + nanos:09d}Z"


@dataclass
class FakeLog:
    """One log line of a deployment."""

    at: datetime
    message: str
    severity: str = "info"
    attributes: dict[str, str] = field(default_factory=dict)
    nanos: int = 0

    def as_graphql(self) -> dict[str, Any]:
        return {
            "timestamp": stamp(self.at, self.nanos),
            "message": self.message,
            "severity": self.severity,
            "tags": None,
            "attributes": [{"key": k, "value": v} for k, v in self.attributes.items()],
        }


@dataclass
class FakeDeployment:
    """A deployment: id, status, creation time, its ``meta`` and its logs (any order)."""

    id: str
    status: str = "SUCCESS"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    logs: list[FakeLog] = field(default_factory=list)
    meta: dict[str, Any] | None = None
    status_updated_at: datetime | None = None


class FakeRailway:
    """A Railway GraphQL endpoint on 127.0.0.1 serving one service in one environment.

    Args:
        environment_id, service_id, service_name: the service instance it knows.
        api_tokens: accepted ``Authorization: Bearer`` tokens.
        project_tokens: accepted ``Project-Access-Token`` tokens.
        keep: which end of an over-full window ``deploymentLogs`` keeps.
        extra_on_full: send ``limit + 1`` logs for an over-full window (Railway's quirk).
    """

    def __init__(
        self,
        *,
        environment_id: str = "env-1",
        service_id: str = "svc-1",
        service_name: str = "api",
        api_tokens: tuple[str, ...] = ("team-token",),
        project_tokens: tuple[str, ...] = ("project-token",),
        keep: Literal["newest", "oldest"] = "newest",
        extra_on_full: bool = False,
    ) -> None:
        self.environment_id = environment_id
        self.service_id = service_id
        self.service_name = service_name
        self.api_tokens = set(api_tokens)
        self.project_tokens = set(project_tokens)
        self.keep = keep
        self.extra_on_full = extra_on_full
        self.deployments: dict[str, FakeDeployment] = {}
        self.latest_id: str | None = None
        self.active: list[str] = []
        self.invalid: list[str] = []
        self.operations: list[tuple[str, dict[str, Any]]] = []
        self.actions: list[tuple[str, dict[str, Any]]] = []
        self.refuse_actions: str | None = None
        self.other_deployments: dict[str, str] = {}
        self._failures: list[Reply] = []
        self._lock = threading.RLock()
        self.server = FakeServer()
        self.server.route("POST", GRAPHQL_PATH, self._handle)

    # --- lifecycle --------------------------------------------------------------------------
    def start(self) -> FakeRailway:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> FakeRailway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """The GraphQL endpoint (``RAILWAY_API_URL``)."""
        return self.server.url + GRAPHQL_PATH

    # --- the service's state --------------------------------------------------------------------
    def deploy(
        self,
        deployment_id: str,
        *,
        status: str = "SUCCESS",
        created_at: datetime | None = None,
        commit: str | None = None,
        status_at: datetime | None = None,
    ) -> FakeDeployment:
        """Create a deployment and make it the latest (a redeploy when one exists); see
        :meth:`set_status` for what its status does to the active ones. ``commit`` fills
        ``meta`` as a deploy from GitHub does (``commitHash``, ``branch``...)."""
        with self._lock:
            deployment = FakeDeployment(deployment_id, "QUEUED", created_at or datetime.now(UTC))
            if commit is not None:
                deployment.meta = {
                    "branch": "main",
                    "commitHash": commit,
                    "commitMessage": "deployed by the test",
                    "repo": "acme/service",
                }
            self.deployments[deployment_id] = deployment
            self.latest_id = deployment_id
            self.set_status(deployment_id, status, at=status_at)
            return deployment

    def set_status(self, deployment_id: str, status: str, *, at: datetime | None = None) -> None:
        """Change a deployment's status as Railway does: one that becomes SUCCESS replaces
        the active ones (they become REMOVED); one that fails stops being active; while
        one builds, the active ones keep serving. ``statusUpdatedAt`` becomes ``at``
        (default: now)."""
        with self._lock:
            self.deployments[deployment_id].status = status
            self.deployments[deployment_id].status_updated_at = at or datetime.now(UTC)
            if status == "SUCCESS":
                for old in self.active:
                    if old != deployment_id:
                        self.deployments[old].status = "REMOVED"
                self.active = [deployment_id]
            elif status in ("FAILED", "CRASHED", "REMOVED") and deployment_id in self.active:
                self.active.remove(deployment_id)

    def add_logs(
        self,
        deployment_id: str,
        messages: list[str],
        *,
        at: datetime | None = None,
        step: timedelta = timedelta(milliseconds=1),
        severity: str = "info",
        attributes: dict[str, str] | None = None,
    ) -> list[FakeLog]:
        """Append log lines to a deployment (created if missing), ``step`` apart from ``at``
        (default: now)."""
        with self._lock:
            if deployment_id not in self.deployments:
                self.deploy(deployment_id)
            start = at or datetime.now(UTC)
            logs = [
                FakeLog(start + i * step, text, severity, dict(attributes or {}))
                for i, text in enumerate(messages)
            ]
            self.deployments[deployment_id].logs.extend(logs)
            return logs

    def fail_next(self, reply: Reply, times: int = 1) -> None:
        """Answer the next ``times`` requests with ``reply`` (e.g. a 429)."""
        with self._lock:
            self._failures.extend([reply] * times)

    def queries(self, operation: str) -> list[dict[str, Any]]:
        """Variables of every valid request whose root field is ``operation``, in order."""
        with self._lock:
            return [v for op, v in self.operations if op == operation]

    # --- protocol ----------------------------------------------------------------------------
    def _handle(self, request: Request) -> Reply:
        with self._lock:
            if self._failures:
                return self._failures.pop(0)
        try:
            body = request.json()
            document = graphql.parse(body["query"])
        except (ValueError, KeyError, TypeError, graphql.GraphQLError) as error:
            self.invalid.append(f"unparsable request: {error}")
            return Reply.json({"errors": [{"message": f"Syntax Error: {error}"}]}, 400)
        problems = graphql.validate(railway_schema(), document)
        if problems:
            self.invalid.extend(p.message for p in problems)
            return Reply.json({"errors": [p.formatted for p in problems]}, 400)
        variables = body.get("variables") or {}
        self._record(document, variables)
        result = graphql.execute_sync(
            railway_schema(),
            document,
            root_value=self._root(request),
            variable_values=variables,
            operation_name=body.get("operationName"),
        )
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in result.errors]
        return Reply.json(payload)

    def _record(self, document: graphql.DocumentNode, variables: dict[str, Any]) -> None:
        for definition in document.definitions:
            if isinstance(definition, graphql.OperationDefinitionNode):
                for selection in definition.selection_set.selections:
                    if isinstance(selection, graphql.FieldNode):
                        with self._lock:
                            self.operations.append((selection.name.value, dict(variables)))

    def _root(self, request: Request) -> dict[str, Any]:
        authorized = self._authorized(request)

        def guard() -> None:
            if not authorized:
                raise graphql.GraphQLError("Not Authorized")

        def service_instance(_info: Any, environmentId: str, serviceId: str) -> dict[str, Any]:
            guard()
            return self._service_instance(environmentId, serviceId)

        def deployment_logs(_info: Any, deploymentId: str, **window: Any) -> list[Any]:
            guard()
            return self._logs(deploymentId, **window)

        def action(name: str) -> Any:
            def resolve(_info: Any, **args: Any) -> bool:
                guard()
                return self._action(name, args)

            return resolve

        def deployment(_info: Any, id: str) -> dict[str, Any]:
            guard()
            return self._deployment_of(id)

        def deployments(_info: Any, input: dict[str, Any], **page: Any) -> dict[str, Any]:
            guard()
            return self._deployments(input, **page)

        return {
            "serviceInstance": service_instance,
            "deploymentLogs": deployment_logs,
            "deployment": deployment,
            "deployments": deployments,
            "deploymentRestart": action("deploymentRestart"),
            "deploymentRollback": action("deploymentRollback"),
            "serviceInstanceRedeploy": action("serviceInstanceRedeploy"),
        }

    def _action(self, name: str, args: dict[str, Any]) -> bool:
        with self._lock:
            if self.refuse_actions:
                raise graphql.GraphQLError(self.refuse_actions)
            if "id" in args and args["id"] not in self.deployments:
                raise graphql.GraphQLError("Deployment not found")
            if "serviceId" in args and (args["environmentId"], args["serviceId"]) != (
                self.environment_id,
                self.service_id,
            ):
                raise graphql.GraphQLError("ServiceInstance not found")
            self.actions.append((name, dict(args)))
            return True

    def _deployment_of(self, deployment_id: str) -> dict[str, Any]:
        with self._lock:
            if deployment_id in self.deployments:
                found = _deployment(self.deployments[deployment_id])
                return {**found, "serviceId": self.service_id}
            if deployment_id in self.other_deployments:
                return {
                    "id": deployment_id,
                    "serviceId": self.other_deployments[deployment_id],
                    "status": "SUCCESS",
                    "createdAt": "2026-01-01T00:00:00Z",
                }
        raise graphql.GraphQLError("Deployment not found")

    def _authorized(self, request: Request) -> bool:
        bearer = (request.header("authorization") or "").removeprefix("Bearer ").strip()
        project = (request.header("project-access-token") or "").strip()
        return bool(
            (bearer and bearer in self.api_tokens) or (project and project in self.project_tokens)
        )

    def _service_instance(self, environment_id: str, service_id: str) -> dict[str, Any]:
        if (environment_id, service_id) != (self.environment_id, self.service_id):
            raise graphql.GraphQLError("ServiceInstance not found")
        with self._lock:
            latest = self.deployments.get(self.latest_id or "")
            active = [_deployment(self.deployments[i]) for i in self.active]
        return {
            "serviceName": self.service_name,
            "serviceId": service_id,
            "environmentId": environment_id,
            "latestDeployment": None if latest is None else _deployment(latest),
            "activeDeployments": active,
        }

    def _deployments(
        self, where: dict[str, Any], first: int | None = None, **_page: Any
    ) -> dict[str, Any]:
        if (
            where.get("environmentId", self.environment_id) != self.environment_id
            or where.get("serviceId", self.service_id) != self.service_id
        ):
            return {"edges": [], "pageInfo": _page_info()}
        with self._lock:
            ordered = sorted(self.deployments.values(), key=lambda d: d.created_at, reverse=True)
            nodes = [
                {
                    **_deployment(d),
                    "canRollback": d.id != self.latest_id and d.status in ("SUCCESS", "REMOVED"),
                }
                for d in ordered[: first if first is not None else None]
            ]
        edges = [{"cursor": node["id"], "node": node} for node in nodes]
        return {"edges": edges, "pageInfo": _page_info(len(ordered) > len(nodes))}

    def _logs(
        self,
        deployment_id: str,
        startDate: str | None = None,
        endDate: str | None = None,
        limit: int | None = None,
        filter: str | None = None,
    ) -> list[dict[str, Any]]:
        with self._lock:
            deployment = self.deployments.get(deployment_id)
            if deployment is None:
                raise graphql.GraphQLError("Deployment not found")
            start = _parse(startDate) if startDate else None
            end = _parse(endDate) if endDate else None
            logs = sorted(
                (
                    log
                    for log in deployment.logs
                    if (start is None or log.at >= start) and (end is None or log.at <= end)
                ),
                key=lambda log: log.at,
            )
        if limit is not None and len(logs) > limit:
            size = limit + 1 if self.extra_on_full else limit
            logs = logs[-size:] if self.keep == "newest" else logs[:size]
        return [log.as_graphql() for log in logs]


def _deployment(deployment: FakeDeployment) -> dict[str, Any]:
    changed = deployment.status_updated_at or deployment.created_at
    return {
        "id": deployment.id,
        "status": deployment.status,
        "createdAt": _iso(deployment.created_at),
        "updatedAt": _iso(changed),
        "statusUpdatedAt": _iso(changed),
        "meta": deployment.meta,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _page_info(more: bool = False) -> dict[str, Any]:
    return {"hasNextPage": more, "hasPreviousPage": False, "startCursor": None, "endCursor": None}


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
