"""Fixes apply: the GitHub REST client that opens and reads a fix's pull request.

Three endpoints of GitHub's REST API (version ``2022-11-28``, as its OpenAPI description
``github/rest-api-description`` documents them), over an injected ``httpx.Client``::

    POST /repos/{owner}/{repo}/pulls                  open one: 201 with the pull request;
                                                      422 "A pull request already exists
                                                      for owner:branch." -> the existing one
    GET  /repos/{owner}/{repo}/pulls?head=&state=all  find the one of a branch
    GET  /repos/{owner}/{repo}/pulls/{pull_number}    follow one: state, merged,
                                                      merge_commit_sha, merged_at

Every request carries ``Authorization: Bearer <GITHUB_TOKEN>``, ``Accept:
application/vnd.github+json`` and ``X-GitHub-Api-Version: 2022-11-28``. Server errors,
transport errors and rate limits are retried with tenacity, honouring GitHub's headers:
``retry-after`` (seconds) first, else ``x-ratelimit-remaining: 0`` with
``x-ratelimit-reset`` (UTC epoch seconds), else at least a minute for a secondary limit
(:func:`retry_wait` is the one place that decides). A wait longer than
``max_wait_seconds`` is not slept: the error says when to try again.

Errors (``str()`` names the variable to fix and never holds the token)::

    GitHubError
    ├── GitHubAuthError      401 (GITHUB_TOKEN refused), or 403 that is not a rate limit
    │                        (the token lacks "Pull requests: write" / "Contents: read")
    ├── GitHubNotFound       404: GITHUB_REPOSITORY is wrong or the token cannot see it
    ├── GitHubRefused        422 and other 4xx: GitHub's message and errors[].message
    └── GitHubUnavailable    unreachable, 5xx or rate limited, after the retries
                             (``retry_after_seconds`` when GitHub said how long)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import httpx
from pydantic import BaseModel, Field, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from core.redact import scrub_secrets
from settings import DEFAULT_GITHUB_API_URL as DEFAULT_API_URL
from settings import GITHUB_REPOSITORY_PATTERN

API_VERSION = "2022-11-28"
#: A full commit sha (SHA-1, or SHA-256 repositories).
_SHA = r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$"
#: GitHub's advice for a secondary rate limit that names no wait: at least one minute.
SECONDARY_LIMIT_WAIT_SECONDS = 60.0


class GitHubError(Exception):
    """Base of the GitHub errors; the message is fit for Slack (no token in it)."""

    def __init__(self, message: str) -> None:
        super().__init__(scrub_secrets(message))
        self.reason = str(self)


class GitHubAuthError(GitHubError):
    """GitHub refused GITHUB_TOKEN (401) or the token lacks a permission (403)."""


class GitHubNotFound(GitHubError):
    """404: the repository (GITHUB_REPOSITORY) or the pull request is not visible."""


class GitHubRefused(GitHubError):
    """GitHub understood the request and refused it (422 and other 4xx).

    Attributes:
        status: the HTTP status.
        messages: ``errors[].message`` of GitHub's answer, in order.
    """

    def __init__(self, message: str, *, status: int, messages: list[str]) -> None:
        super().__init__(message)
        self.status = status
        self.messages = messages


class GitHubUnavailable(GitHubError):
    """GitHub could not be reached, failed (5xx) or rate-limited us.

    Attributes:
        retry_after_seconds: how long to wait before the next try (GitHub's headers, or
            the backoff), None when GitHub did not say.
    """

    def __init__(self, message: str, *, retry_after_seconds: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PullRequest(BaseModel):
    """The facts of a pull request mendbot acts on (GitHub's ``pull-request`` schema, or
    ``pull-request-simple`` from the list endpoint, which has no ``merged``).

    Attributes:
        number: the pull request's number in the repository.
        url: its web page (``html_url``).
        state: ``open`` or ``closed`` (a merged pull request is ``closed``).
        merged: True once merged.
        merge_commit_sha: once merged, the commit the base branch got (merge, squash or
            rebase); before, GitHub's *test* merge commit, which means nothing to us.
        merged_at: aware UTC, once merged.
        head_ref, head_sha: the branch with the fix (``mendbot/<fix id>``) and its tip.
        base_ref: the branch it merges into (``GIT_BRANCH``).
    """

    number: int = Field(gt=0)
    url: str
    state: Literal["open", "closed"]
    merged: bool = False
    merge_commit_sha: str | None = Field(None, pattern=_SHA)
    merged_at: datetime | None = None
    head_ref: str
    head_sha: str = Field(pattern=_SHA)
    base_ref: str

    @classmethod
    def from_api(cls, payload: Any) -> PullRequest:
        """Read GitHub's JSON for one pull request.

        Raises:
            GitHubError: the answer does not have the documented shape.
        """
        try:
            merged_at = payload.get("merged_at")
            return cls(
                number=payload["number"],
                url=payload["html_url"],
                state=payload["state"],
                merged=bool(payload.get("merged", merged_at is not None)),
                merge_commit_sha=payload.get("merge_commit_sha"),
                merged_at=merged_at,
                head_ref=payload["head"]["ref"],
                head_sha=payload["head"]["sha"],
                base_ref=payload["base"]["ref"],
            )
        except (AttributeError, KeyError, TypeError, ValidationError) as error:
            raise GitHubError(
                f"GitHub sent a pull request of an unexpected shape: {error}"
            ) from error

    def summary(self) -> dict[str, Any]:
        """The JSON facts kept in the audit trail and shown in Slack: ``number``, ``url``,
        ``branch``, ``base``, and ``merge_commit_sha`` / ``merged_at`` once merged."""
        facts: dict[str, Any] = {
            "number": self.number,
            "url": self.url,
            "branch": self.head_ref,
            "base": self.base_ref,
        }
        if self.merged:
            facts["merge_commit_sha"] = self.merge_commit_sha
            facts["merged_at"] = self.merged_at.isoformat() if self.merged_at else None
        return facts


class GitHubClient:
    """Opens, finds and reads pull requests of one repository.

    Args:
        client: the HTTP client (its timeout applies to each request).
        api_url: ``GITHUB_API_URL``, e.g. ``https://api.github.com`` or a GitHub
            Enterprise Server's ``https://host/api/v3``.
        token: ``GITHUB_TOKEN``: a fine-grained token with "Pull requests: read and
            write" and "Contents: read" on the repository (or a classic ``repo`` token).
        repository: ``GITHUB_REPOSITORY``, ``owner/name``.
        attempts: calls per request at most (1 = no retry).
        max_wait_seconds: the longest single wait between two tries; a longer one asked
            by GitHub ends the retries with :class:`GitHubUnavailable`.
        sleep, clock: ``time.sleep`` and ``time.time`` (epoch seconds); tests pass their own.

    Raises:
        ValueError: ``repository`` is not ``owner/name``.
    """

    def __init__(
        self,
        *,
        client: httpx.Client,
        api_url: str = DEFAULT_API_URL,
        token: str,
        repository: str,
        attempts: int = 4,
        max_wait_seconds: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not GITHUB_REPOSITORY_PATTERN.fullmatch(repository):
            raise ValueError(f"GITHUB_REPOSITORY must be owner/name, not {repository!r}")
        self.client = client
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.owner = repository.split("/", 1)[0]
        self.attempts = max(1, attempts)
        self.max_wait_seconds = max_wait_seconds
        self._token = token
        self._sleep = sleep
        self._clock = clock

    # --- the endpoints -------------------------------------------------------------------------
    def create_pull_request(self, *, head: str, base: str, title: str, body: str) -> PullRequest:
        """Open a pull request from branch ``head`` into ``base``, or return the one that
        is already open for ``head`` (GitHub's 422 "A pull request already exists").

        Raises:
            GitHubRefused: GitHub refused it for another reason (e.g. ``head`` is not on
                GitHub, or there is no difference to ``base``).
            GitHubAuthError, GitHubNotFound, GitHubUnavailable: as the module says.
        """
        payload = {"title": title, "head": head, "base": base, "body": body}
        try:
            return PullRequest.from_api(self._call("POST", "/pulls", json=payload))
        except GitHubRefused as refused:
            if not any("already exists" in m for m in refused.messages):
                raise
            existing = self.find_pull_request(head)
            if existing is None:
                raise
            return existing

    def find_pull_request(self, head: str) -> PullRequest | None:
        """The pull request of branch ``head`` (open first, else the newest), or None.

        Raises:
            GitHubAuthError, GitHubNotFound, GitHubUnavailable: as the module says.
        """
        params = {"head": f"{self.owner}:{head}", "state": "all", "per_page": "30"}
        found = [PullRequest.from_api(item) for item in self._call("GET", "/pulls", params=params)]
        found = [pr for pr in found if pr.head_ref == head]
        found.sort(key=lambda pr: (pr.state == "open", pr.number), reverse=True)
        return found[0] if found else None

    def get_pull_request(self, number: int) -> PullRequest:
        """Pull request ``number`` as it is now.

        Raises:
            GitHubNotFound: no such pull request (or repository).
            GitHubAuthError, GitHubUnavailable: as the module says.
        """
        return PullRequest.from_api(self._call("GET", f"/pulls/{int(number)}"))

    # --- one request, retried ------------------------------------------------------------------
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send one request (retried as :func:`retry_wait` says); returns the JSON body."""
        retrying = Retrying(
            retry=retry_if_exception(self._worth_waiting),
            stop=stop_after_attempt(self.attempts),
            wait=_backoff,
            sleep=self._sleep,
            reraise=True,
        )
        return retrying(self._send, method, path, **kwargs)

    def _worth_waiting(self, error: BaseException) -> bool:
        if not isinstance(error, GitHubUnavailable) or error.retry_after_seconds is None:
            return False
        return error.retry_after_seconds <= self.max_wait_seconds

    def _send(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.api_url}/repos/{self.repository}{path}"
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mendbot",
        }
        try:
            response = self.client.request(method, url, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            raise GitHubUnavailable(
                self._clean(f"GitHub at {self.api_url} could not be reached: {error}"),
                retry_after_seconds=0.0,
            ) from error
        if response.status_code < 300:
            try:
                return response.json()
            except ValueError as error:
                raise GitHubError(f"GitHub answered {method} {path} with no JSON") from error
        raise self._error(response)

    def _error(self, response: httpx.Response) -> GitHubError:
        """The error for a non-2xx answer (see the module docstring)."""
        status = response.status_code
        message, details = _messages(response)
        said = self._clean(f"{message}" + (f" ({'; '.join(details)})" if details else ""))
        wait = retry_wait(response, now=self._clock())
        if wait is not None:
            what = "rate-limited mendbot" if status in (403, 429) else f"failed (HTTP {status})"
            later = f"; try again in {wait:.0f} s" if wait >= 1 else ""
            return GitHubUnavailable(f"GitHub {what}: {said}{later}", retry_after_seconds=wait)
        if status == 401:
            return GitHubAuthError(
                f"GitHub refused GITHUB_TOKEN (HTTP 401: {said}); set a valid token"
            )
        if status == 403:
            return GitHubAuthError(
                f"GitHub refused the request (HTTP 403: {said}); GITHUB_TOKEN needs "
                f"'Pull requests: read and write' on {self.repository}"
            )
        if status == 404:
            return GitHubNotFound(
                f"GitHub has no repository {self.repository} that GITHUB_TOKEN can see, or no "
                f"such pull request (HTTP 404: {said}); check GITHUB_REPOSITORY and the "
                "token's repository access"
            )
        return GitHubRefused(
            f"GitHub refused it (HTTP {status}): {said}", status=status, messages=details
        )

    def _clean(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def retry_wait(response: httpx.Response, *, now: float) -> float | None:
    """Seconds to wait before trying ``response``'s request again, or None: do not retry.

    GitHub's rules, in order: 5xx is retried (after 0 s: the backoff adds the rest);
    403/429 with ``retry-after`` waits that many seconds; with ``x-ratelimit-remaining: 0``,
    until ``x-ratelimit-reset`` (UTC epoch seconds); a 429, or a 403 whose message speaks
    of a rate limit, at least :data:`SECONDARY_LIMIT_WAIT_SECONDS`. Any other 4xx: None.

    Args:
        response: GitHub's answer.
        now: the current time, UTC epoch seconds.
    """
    status = response.status_code
    if status >= 500:
        return 0.0
    if status not in (403, 429):
        return None
    headers = response.headers
    after = _number(headers.get("retry-after"))
    if after is not None:
        return max(0.0, after)
    reset = _number(headers.get("x-ratelimit-reset"))
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        return max(0.0, reset - now)
    if status == 429 or "rate limit" in _messages(response)[0].lower():
        return SECONDARY_LIMIT_WAIT_SECONDS
    return None


def _backoff(state: RetryCallState) -> float:
    """The wait before the next try: what :func:`retry_wait` asked for, and at least
    1, 2, 4, ... seconds (doubling with each try)."""
    error = state.outcome.exception() if state.outcome else None
    hinted = float(getattr(error, "retry_after_seconds", None) or 0.0)
    return max(hinted, 2.0 ** (state.attempt_number - 1))


def _messages(response: httpx.Response) -> tuple[str, list[str]]:
    """GitHub's ``message`` and its ``errors[].message`` (or ``code``/``field``) values."""
    try:
        payload = response.json()
    except ValueError:
        return (response.reason_phrase or f"HTTP {response.status_code}", [])
    if not isinstance(payload, dict):
        return (f"HTTP {response.status_code}", [])
    details = []
    for item in payload.get("errors") or []:
        if isinstance(item, dict):
            text = item.get("message") or " ".join(
                str(item[k]) for k in ("resource", "field", "code") if item.get(k)
            )
            details.append(str(text)[:300])
        elif isinstance(item, str):
            details.append(item[:300])
    return (str(payload.get("message") or f"HTTP {response.status_code}")[:300], details)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
