"""Test support: a fake GitHub REST API for pull requests, backed by a real bare repository.

:class:`FakeGitHub` runs on :class:`tests.fakes.server.FakeServer` (127.0.0.1, port 0) and
answers the three endpoints mendbot uses, with the shapes GitHub's OpenAPI description
(``github/rest-api-description``, API version 2022-11-28) documents::

    POST /repos/{owner}/{repo}/pulls        201 pull-request; 422 Validation Failed
    GET  /repos/{owner}/{repo}/pulls        200 [pull-request-simple] (head=, state=)
    GET  /repos/{owner}/{repo}/pulls/{n}    200 pull-request; 404

As GitHub does, it answers 401 "Bad credentials" unless ``Authorization: Bearer <token>``
(or ``token <token>``) is sent, 404 for another repository, 400 for an unknown
``X-GitHub-Api-Version``, and 422 when ``head`` or ``base`` is not a branch of the
repository, when there are no commits between them, or when an open pull request
already exists for ``head`` ("A pull request already exists for owner:branch."). Branches
and commits are read from the bare repository, so a pull request exists only for a branch
that was really pushed; :meth:`FakeGitHub.merge` really merges it there (a merge commit on
the base branch, as the Merge button does) and :meth:`FakeGitHub.close` closes it.

Faults for the retry paths: :meth:`FakeGitHub.fail_next` queues canned answers (5xx,
429 with ``retry-after``, a secondary rate limit, 401, 404) served before the real ones::

    with FakeGitHub(bare=pair.bare) as github:
        github.fail_next(Reply.json({"message": "Server Error"}, 502))
        ...  # point the client at github.url with github.token and github.repository
        [create] = github.requests("POST", "/pulls")
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.fakes.git import git
from tests.fakes.server import FakeServer, Reply, Request

TOKEN = "ghp_FakeGitHubToken0123456789abcdefABCDEF"
DOCS = "https://docs.github.com/rest/pulls/pulls"
API_VERSIONS = ("2022-11-28", "2026-03-10")
BODY_MAX = 65536


def github_error(status: int, message: str, *, errors: list[Any] | None = None) -> Reply:
    """An error answer shaped as GitHub's ``basic-error`` / ``validation-error``."""
    payload: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors is not None:
        payload["errors"] = errors
    else:
        payload["status"] = str(status)
    return Reply.json(payload, status)


class FakeGitHub:
    """GitHub's pull request endpoints for one repository, on a real bare repository.

    Args:
        bare: the bare repository that stands for the GitHub repository (branches and
            commits are read from it, merges are written to it).
        repository: ``owner/name`` that the routes answer for.
        token: the only token accepted.

    Attributes:
        pulls: number -> the stored pull request (GitHub's ``pull-request`` JSON).
    """

    def __init__(self, *, bare: Path, repository: str = "acme/orders", token: str = TOKEN) -> None:
        self.bare = bare
        self.repository = repository
        self.owner = repository.split("/")[0]
        self.token = token
        self.pulls: dict[int, dict[str, Any]] = {}
        self._numbers = itertools.count(1)
        self._faults: list[Reply | Callable[[Request], Reply | None]] = []
        self._lock = threading.Lock()
        self.server = FakeServer()
        prefix = f"/repos/{repository}/pulls"
        self.server.route("POST", prefix, self._guarded(self._create))
        self.server.route("GET", prefix, self._guarded(self._list))
        self.server.route("GET", prefix + "/*", self._guarded(self._get))
        for method in ("GET", "POST", "PATCH"):
            self.server.route(method, "/*", self._guarded(lambda _req: None))

    # --- lifecycle ----------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The API base URL (``GITHUB_API_URL``)."""
        return self.server.url

    def __enter__(self) -> FakeGitHub:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    def requests(self, method: str | None = None, suffix: str = "") -> list[Request]:
        """Recorded requests to ``/repos/<repository>/pulls<suffix>`` (optionally one method)."""
        path = f"/repos/{self.repository}/pulls{suffix}"
        return self.server.received(path, method)

    def fail_next(self, *replies: Reply | Callable[[Request], Reply | None]) -> None:
        """Answer the next requests with ``replies``, in order, before anything else; a
        callable is called with the request, and when it returns None the request is
        then answered as usual (something happened on GitHub first)."""
        with self._lock:
            self._faults.extend(replies)

    # --- what people do on GitHub ---------------------------------------------------------------
    def merge(self, number: int, *, merged_by: str = "octocat") -> str:
        """Merge pull request ``number`` as the Merge button does: a merge commit of the
        head branch on the base branch, made inside the bare repository as GitHub's own
        servers do (``git merge-tree``, ``commit-tree``, ``update-ref``), so a protected
        base branch's ``pre-receive`` hook does not apply. Returns the merge commit's sha.
        """
        pull = self.pulls[number]
        base, head = pull["base"]["ref"], pull["head"]["ref"]
        base_sha = git(self.bare, "rev-parse", f"refs/heads/{base}")
        head_sha = git(self.bare, "rev-parse", f"refs/heads/{head}")
        tree = git(self.bare, "merge-tree", "--write-tree", base_sha, head_sha)
        message = f"Merge pull request #{number} from {self.owner}/{head}\n\n{pull['title']}"
        sha = git(self.bare, "commit-tree", tree, "-p", base_sha, "-p", head_sha, "-m", message)
        git(self.bare, "update-ref", f"refs/heads/{base}", sha, base_sha)
        now = _now()
        with self._lock:
            pull.update(
                state="closed",
                merged=True,
                merged_at=now,
                closed_at=now,
                updated_at=now,
                merge_commit_sha=sha,
                merged_by=_user(merged_by),
            )
        return sha

    def open_pull(self, *, head: str, base: str = "main", title: str = "by hand") -> int:
        """Open a pull request as a person on the web would; returns its number."""
        sha, base_sha = self._branch_sha(head), self._branch_sha(base)
        assert sha is not None and base_sha is not None, "both branches must exist"
        return int(self._new_pull({"title": title}, head, sha, base, base_sha)["number"])

    def close(self, number: int) -> None:
        """Close pull request ``number`` without merging it (its branch stays)."""
        now = _now()
        with self._lock:
            self.pulls[number].update(state="closed", closed_at=now, updated_at=now)

    # --- the endpoints --------------------------------------------------------------------------
    def _guarded(self, handler: Any) -> Any:
        def serve(request: Request) -> Reply:
            with self._lock:
                fault = self._faults.pop(0) if self._faults else None
            if isinstance(fault, Reply):
                return fault
            if fault is not None:
                answer = fault(request)
                if answer is not None:
                    return answer
            auth = request.header("authorization") or ""
            if auth not in (f"Bearer {self.token}", f"token {self.token}"):
                return github_error(401, "Bad credentials")
            version = request.header("x-github-api-version")
            if version is not None and version not in API_VERSIONS:
                return github_error(400, f"Unsupported 'X-GitHub-Api-Version': {version}")
            return handler(request) or github_error(404, "Not Found")

        return serve

    def _create(self, request: Request) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return github_error(400, "Problems parsing JSON")
        if not isinstance(body, dict):
            return github_error(400, "Problems parsing JSON")
        invalid = self._invalid_fields(body)
        if invalid:
            return github_error(422, "Validation Failed", errors=invalid)
        head, base = body["head"].split(":")[-1], body["base"]
        head_sha, base_sha = self._branch_sha(head), self._branch_sha(base)
        if head_sha is None or base_sha is None:
            field = "head" if head_sha is None else "base"
            errors = [{"resource": "PullRequest", "field": field, "code": "invalid"}]
            return github_error(422, "Validation Failed", errors=errors)
        if self._open_for(head) is not None:
            message = f"A pull request already exists for {self.owner}:{head}."
            errors = [{"resource": "PullRequest", "code": "custom", "message": message}]
            return github_error(422, "Validation Failed", errors=errors)
        if git(self.bare, "rev-list", "--count", f"{base_sha}..{head_sha}") == "0":
            message = f"No commits between {base} and {head}"
            errors = [{"resource": "PullRequest", "code": "custom", "message": message}]
            return github_error(422, "Validation Failed", errors=errors)
        pull = self._new_pull(body, head, head_sha, base, base_sha)
        location = f"{self.url}/repos/{self.repository}/pulls/{pull['number']}"
        return Reply.json(pull, 201, Location=location)

    def _invalid_fields(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        errors = []
        for name in ("head", "base", "title"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                errors.append({"resource": "PullRequest", "field": name, "code": "missing_field"})
        if "body" in body and not isinstance(body["body"], str | None):
            errors.append({"resource": "PullRequest", "field": "body", "code": "invalid"})
        elif len(body.get("body") or "") > BODY_MAX:
            message = f"body is too long (maximum is {BODY_MAX} characters)"
            errors.append({"resource": "Issue", "code": "custom", "message": message})
        return errors

    def _list(self, request: Request) -> Reply:
        head = (request.query.get("head") or [""])[-1]
        state = (request.query.get("state") or ["open"])[-1]
        owner, _, branch = head.rpartition(":")
        with self._lock:
            pulls = sorted(self.pulls.values(), key=lambda p: p["number"], reverse=True)
            found = [
                _simple(p)
                for p in pulls
                if (not head or (owner == self.owner and p["head"]["ref"] == branch))
                and (state == "all" or p["state"] == state)
            ]
        return Reply.json(found)

    def _get(self, request: Request) -> Reply | None:
        tail = request.path.rsplit("/", 1)[-1]
        with self._lock:
            pull = self.pulls.get(int(tail)) if tail.isdigit() else None
            return Reply.json(pull) if pull is not None else None

    # --- plumbing -------------------------------------------------------------------------------
    def _branch_sha(self, branch: str) -> str | None:
        try:
            return git(self.bare, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")
        except Exception:
            return None

    def _open_for(self, head: str) -> dict[str, Any] | None:
        with self._lock:
            return next(
                (
                    p
                    for p in self.pulls.values()
                    if p["head"]["ref"] == head and p["state"] == "open"
                ),
                None,
            )

    def _new_pull(
        self, body: dict[str, Any], head: str, head_sha: str, base: str, base_sha: str
    ) -> dict[str, Any]:
        number = next(self._numbers)
        api = f"{self.url}/repos/{self.repository}/pulls/{number}"
        html = f"https://github.com/{self.repository}/pull/{number}"
        now = _now()
        repo = {"id": 1296269, "name": self.repository.split("/")[1], "full_name": self.repository}
        pull = {
            "url": api,
            "id": 1000 + number,
            "node_id": f"PR_fake{number}",
            "html_url": html,
            "diff_url": f"{html}.diff",
            "patch_url": f"{html}.patch",
            "number": number,
            "state": "open",
            "locked": False,
            "title": body["title"],
            "user": _user("mendbot[bot]"),
            "body": body.get("body"),
            "created_at": now,
            "updated_at": now,
            "closed_at": None,
            "merged_at": None,
            "merge_commit_sha": "0" * 40,  # a test merge commit before merging
            "head": {"label": f"{self.owner}:{head}", "ref": head, "sha": head_sha, "repo": repo},
            "base": {"label": f"{self.owner}:{base}", "ref": base, "sha": base_sha, "repo": repo},
            "draft": bool(body.get("draft", False)),
            "merged": False,
            "mergeable": None,
            "merged_by": None,
            "comments": 0,
            "commits": 1,
            "maintainer_can_modify": bool(body.get("maintainer_can_modify", False)),
        }
        with self._lock:
            self.pulls[number] = pull
        return json.loads(json.dumps(pull))


def _simple(pull: dict[str, Any]) -> dict[str, Any]:
    """``pull-request-simple``: the list endpoint's shape, which has no ``merged``."""
    omitted = {"merged", "mergeable", "merged_by", "comments", "commits", "maintainer_can_modify"}
    return {k: v for k, v in pull.items() if k not in omitted}


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**6, "type": "User"}


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
