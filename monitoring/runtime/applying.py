"""Composition root, applying fixes: the edit policy, the implementor, GitHub and delivery."""

from __future__ import annotations

import httpx

from core.policy import DEFAULT_PROTECTED_PATHS, EditPolicy
from fixes.apply.delivery import Delivery, PullRequestDelivery, PushDelivery
from fixes.apply.github import GitHubClient
from fixes.apply.implementor import FixImplementor
from settings import Settings, secret_value, service_environment

#: Seconds each request to GitHub's REST API may take.
GITHUB_HTTP_TIMEOUT_SECONDS = 30.0


def edit_policy(settings: Settings) -> EditPolicy:
    """The edit policy both the diagnoser and the implementor judge edits by:
    ``MENDBOT_PROTECTED_PATHS`` when set, else the default protected paths."""
    patterns = settings.protected_paths
    return EditPolicy(
        protected=tuple(patterns) if patterns is not None else DEFAULT_PROTECTED_PATHS
    )


def build_implementor(
    settings: Settings, *, github: GitHubClient | None = None
) -> FixImplementor | None:
    """The implementor for ``TARGET_REPO_PATH`` (git remote and branch, ``VALIDATE_*``, the
    commit identity, the delivery, the edit policy); None when no repository is set.

    Args:
        settings: the process settings.
        github: the client of pull-request delivery (:func:`build_github`); None pushes
            to ``GIT_BRANCH``.
    """
    if settings.target_repo_path is None:
        return None
    return FixImplementor(
        repo_path=settings.target_repo_path,
        remote=settings.git_remote,
        branch=settings.git_branch,
        validate_command=settings.validate_command,
        validate_timeout_seconds=settings.validate_timeout_seconds,
        test_command=settings.test_command,
        author_name=settings.git_author_name,
        author_email=settings.git_author_email,
        service_environment=service_environment(),
        delivery=build_delivery(github),
        policy=edit_policy(settings),
    )


def build_github(settings: Settings) -> GitHubClient | None:
    """The GitHub client for ``GITHUB_REPOSITORY`` at ``GITHUB_API_URL`` with
    ``GITHUB_TOKEN``, when ``MENDBOT_DELIVERY=pull_request``; else None (the settings
    validator has already refused a pull-request delivery without a token or repository)."""
    if settings.delivery != "pull_request":
        return None
    return GitHubClient(
        # GitHub answers a renamed repository's GETs with 301 to the new name.
        client=httpx.Client(timeout=GITHUB_HTTP_TIMEOUT_SECONDS, follow_redirects=True),
        api_url=settings.github_api_url,
        token=secret_value(settings.github_token) or "",
        repository=settings.github_repository or "",
    )


def build_delivery(github: GitHubClient | None) -> Delivery:
    """Pull requests through ``github`` when there is a client, else a push to
    ``GIT_BRANCH``."""
    return PullRequestDelivery(github=github) if github is not None else PushDelivery()
