"""Log sources: Railway's public GraphQL API: authentication, retries, errors (one client).

Shared by the log source (:mod:`monitoring.sources.railway`, ``deploymentLogs``) and the
deploy follower (:mod:`monitoring.sources.railway_deploys`, ``deployments``), so both
authenticate, retry and fail the same way.

Authentication (both from Railway's dashboard): an account or team token
(``RAILWAY_API_TOKEN``) goes in ``Authorization: Bearer``, a project token
(``RAILWAY_TOKEN``) in ``Project-Access-Token``. Railway answers a refused token with
HTTP 200 and a GraphQL error "Not Authorized", which becomes
:class:`~monitoring.sources.base.LogSourceAuthError` naming the variable. Errors are the
log sources' tree (:mod:`monitoring.sources.base`): 429, 5xx and network failures are
:class:`~monitoring.sources.base.LogSourceUnavailable` and retried with backoff.
"""

from __future__ import annotations

from typing import Any

import httpx

from monitoring.sources.base import (
    LogSourceAuthError,
    LogSourceError,
    RetryPolicy,
    call_with_retries,
    check_http_status,
    translate_http_error,
)


class RailwayAPI:
    """Queries to Railway's GraphQL endpoint with one token.

    Args:
        client: an ``httpx.Client`` (its timeout applies to every request).
        api_url: the GraphQL endpoint, ``settings.railway_api_url``.
        api_token: an account/team token (``RAILWAY_API_TOKEN``), sent as Bearer.
        project_token: a project token (``RAILWAY_TOKEN``), sent as
            ``Project-Access-Token``; used only when ``api_token`` is None.
        retry: how 429/5xx/network failures are retried.

    Raises:
        LogSourceAuthError: neither token is given.
    """

    def __init__(
        self,
        *,
        client: httpx.Client,
        api_url: str,
        api_token: str | None = None,
        project_token: str | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        if not (api_token or project_token):
            raise LogSourceAuthError("Railway needs RAILWAY_API_TOKEN or RAILWAY_TOKEN")
        self.client = client
        self.api_url = api_url
        self.retry = retry or RetryPolicy()
        self.token_variable = "RAILWAY_API_TOKEN" if api_token else "RAILWAY_TOKEN"
        self._headers = (
            {"Authorization": f"Bearer {api_token}"}
            if api_token
            else {"Project-Access-Token": str(project_token)}
        )

    def query(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """Run one GraphQL query; returns its ``data`` (``{}`` when Railway sent none).

        Raises:
            LogSourceAuthError: the token was refused (names the variable).
            LogSourceUnavailable: Railway unreachable, 429 or 5xx after the retries.
            LogSourceError: a GraphQL error or an answer that is not JSON.
        """
        return call_with_retries(lambda: self._post(query, variables), self.retry)

    def close(self) -> None:
        """Close the HTTP client."""
        self.client.close()

    def _post(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.client.post(
                self.api_url, json={"query": query, "variables": variables}, headers=self._headers
            )
        except httpx.HTTPError as error:
            raise translate_http_error(error, backend="Railway") from error
        check_http_status(response, backend="Railway", auth_hint=self.token_variable)
        try:
            body = response.json()
        except ValueError as error:
            raise LogSourceError("Railway answered with something that is not JSON") from error
        errors = body.get("errors") or []
        if errors:
            raise self._graphql_error(errors)
        return body.get("data") or {}

    def _graphql_error(self, errors: list[Any]) -> LogSourceError:
        messages = "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
        if "not authorized" in messages.lower() or "unauthorized" in messages.lower():
            return LogSourceAuthError(
                f'Railway refused the token in {self.token_variable} ("{messages}"): '
                "check that it is valid and can read this project, and that "
                "RAILWAY_ENVIRONMENT_ID and RAILWAY_SERVICE_ID belong to it"
            )
        return LogSourceError(f"Railway GraphQL error: {messages}")
