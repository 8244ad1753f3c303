"""Fixes apply: the git operations on the service's checkout (GitPython), tokens scrubbed.

Every git command runs through GitPython's ``Git.execute`` with prompts disabled
(``GIT_TERMINAL_PROMPT=0``, SSH in batch mode) and a timeout on network commands, so a
missing credential fails instead of hanging. Nothing here ever force-pushes. The fix
commit's message, with the ``Fix-Id:`` trailer that :meth:`GitOps.find_fix_commit` looks
for, is written by :mod:`fixes.apply.commit_message`.

Errors (``str()`` is always scrubbed of tokens and URL credentials, fit for Slack)::

    GitOpsError
    ├── PreflightRefused    the checkout is not fit for a fix: not a repository, wrong
    │                       branch, uncommitted changes, local commits not on the remote,
    │                       a rebase or merge in progress, fetch failed
    ├── PushRejected        the remote refused the push (``.non_fast_forward``)
    ├── RebaseConflict      rebasing the fix onto the remote's new head conflicted
    │                       (the rebase is aborted before this is raised)
    └── GitCommandFailed    any other git failure (translated from ``git.GitCommandError``)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import git

from core.redact import scrub_secrets
from fixes.apply.commit_message import FIX_ID_TRAILER

#: Seconds a fetch or push may take before it is killed.
NETWORK_TIMEOUT_SECONDS = 120.0
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s@]+@")
_FORGES = ("github.com", "gitlab.com", "bitbucket.org", "codeberg.org")
_FORGE_URL = re.compile(
    r"^(?:[A-Za-z+]+://)?(?:[^@/]+@)?(?P<host>[^/:]+)(?::\d+)?[:/](?P<path>[^\s]+?)(?:\.git)?/?$"
)


def scrub(text: str) -> str:
    """``text`` without URL credentials (``https://user:token@host``) or known tokens."""
    return scrub_secrets(_URL_USERINFO.sub(r"\g<scheme>***@", text))


class GitOpsError(Exception):
    """Base of the git errors; the message is token-scrubbed."""

    def __init__(self, message: str) -> None:
        super().__init__(scrub(message))
        self.reason = str(self)


class PreflightRefused(GitOpsError):
    """The checkout is not in a state in which a fix may be applied."""


class PushRejected(GitOpsError):
    """The remote refused the push; ``non_fast_forward`` when it moved on meanwhile."""

    def __init__(self, message: str, *, non_fast_forward: bool) -> None:
        super().__init__(message)
        self.non_fast_forward = non_fast_forward


class RebaseConflict(GitOpsError):
    """The fix does not rebase cleanly onto the remote's new head (rebase aborted)."""


class GitCommandFailed(GitOpsError):
    """A git command failed for another reason."""


class GitOps:
    """Git on one checkout: preflight, commit, push, rebase, keep a branch, reset.

    Use :meth:`open`; the constructor takes an opened ``git.Repo``.

    Args:
        repo: the checkout (not bare).
        remote: ``GIT_REMOTE``, e.g. ``origin``.
        branch: ``GIT_BRANCH``, e.g. ``main``.
        author_name, author_email: identity of fix commits (author and committer).
        network_timeout_seconds: limit for fetch and push.
    """

    def __init__(
        self,
        *,
        repo: git.Repo,
        remote: str,
        branch: str,
        author_name: str,
        author_email: str,
        network_timeout_seconds: float = NETWORK_TIMEOUT_SECONDS,
    ) -> None:
        self.repo = repo
        self.root = Path(repo.working_tree_dir or ".").resolve()
        self.git_dir = Path(repo.git_dir).resolve()
        self.remote = remote
        self.branch = branch
        self.tracking_ref = f"refs/remotes/{remote}/{branch}"
        self.network_timeout_seconds = network_timeout_seconds
        self._env = {"GIT_TERMINAL_PROMPT": "0"}
        self._author_env = {
            "GIT_AUTHOR_NAME": author_name,
            "GIT_AUTHOR_EMAIL": author_email,
            "GIT_COMMITTER_NAME": author_name,
            "GIT_COMMITTER_EMAIL": author_email,
        }

    @classmethod
    def open(cls, repo_path: Path, **kwargs: object) -> GitOps:
        """Open the checkout at ``repo_path`` (its root, not a subdirectory).

        Raises:
            PreflightRefused: the path does not exist, is not the root of a git
                checkout, or is a bare repository.
        """
        try:
            repo = git.Repo(repo_path)
        except git.NoSuchPathError as error:
            raise PreflightRefused(f"TARGET_REPO_PATH {repo_path} does not exist") from error
        except git.InvalidGitRepositoryError as error:
            raise PreflightRefused(
                f"TARGET_REPO_PATH {repo_path} is not the root of a git checkout"
            ) from error
        if repo.bare or repo.working_tree_dir is None:
            raise PreflightRefused(f"TARGET_REPO_PATH {repo_path} is a bare repository")
        return cls(repo=repo, **kwargs)  # type: ignore[arg-type]

    # --- preflight ---------------------------------------------------------------------------
    def preflight(self) -> str:
        """Make sure the checkout may take a fix, and bring it up to the remote's head.

        Checks: on ``branch``, no rebase/merge in progress, no uncommitted changes to
        tracked files (untracked files are left alone), the remote exists; then fetches
        and fast-forwards; refuses when local commits are not on the remote (a push
        would publish them).

        Returns:
            HEAD's sha after fast-forwarding.

        Raises:
            PreflightRefused: the reason, in words for a person.
        """
        self._require_branch()
        self._require_no_operation()
        self._require_clean()
        if self.remote not in [r.name for r in self.repo.remotes]:
            raise PreflightRefused(f"the checkout has no remote named {self.remote!r}")
        try:
            self.fetch()
        except GitCommandFailed as error:
            raise PreflightRefused(f"cannot fetch {self.remote}/{self.branch}: {error}") from error
        ahead, behind = self._ahead_behind()
        if ahead:
            raise PreflightRefused(
                f"{self.branch} has {ahead} local commit(s) not on {self.remote}; "
                "push or drop them first (a fix must not publish them)"
            )
        if behind:
            self.run("merge", "--ff-only", "--quiet", self.tracking_ref)
        return self.head()

    def _require_branch(self) -> None:
        if self.repo.head.is_detached:
            raise PreflightRefused(f"the checkout is on a detached HEAD, not on {self.branch}")
        current = self.repo.active_branch.name
        if current != self.branch:
            raise PreflightRefused(
                f"the checkout is on branch {current}, not GIT_BRANCH={self.branch}"
            )

    def _require_no_operation(self) -> None:
        for marker in ("rebase-merge", "rebase-apply", "MERGE_HEAD", "CHERRY_PICK_HEAD"):
            if (self.git_dir / marker).exists():
                raise PreflightRefused(f"a git operation is in progress ({marker}); finish it")

    def _require_clean(self) -> None:
        _status, out, _err = self._execute(["status", "--porcelain=v1", "--untracked-files=no"])
        changed = [line[3:] for line in out.splitlines() if line.strip()]
        if changed:
            shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
            raise PreflightRefused(f"the checkout has uncommitted changes: {shown}")

    def _ahead_behind(self) -> tuple[int, int]:
        counts = self.run("rev-list", "--left-right", "--count", f"HEAD...{self.tracking_ref}")
        ahead, behind = (int(n) for n in counts.split())
        return ahead, behind

    # --- commits -----------------------------------------------------------------------------
    def head(self) -> str:
        """HEAD's commit sha.

        Raises:
            GitCommandFailed: git failed.
        """
        return self.run("rev-parse", "HEAD")

    def remote_head(self) -> str:
        """The remote-tracking branch's sha as of the last fetch or push.

        Raises:
            GitCommandFailed: git failed.
        """
        return self.run("rev-parse", self.tracking_ref)

    def fetch(self) -> str:
        """Fetch ``branch`` from the remote; returns the remote head.

        Raises:
            GitCommandFailed: the fetch failed or timed out.
        """
        self.run(
            "fetch",
            "--quiet",
            "--no-tags",
            self.remote,
            f"+refs/heads/{self.branch}:{self.tracking_ref}",
            timeout=self.network_timeout_seconds,
        )
        return self.remote_head()

    def commit(self, paths: Sequence[str], message: str) -> str:
        """Stage exactly ``paths`` (repository-relative) and commit them; returns the sha.

        Raises:
            GitCommandFailed: staging or committing failed (e.g. a commit hook refused).
        """
        self.run("add", "--", *paths)
        self.run(
            "commit",
            "--quiet",
            "--no-edit",
            "--cleanup=verbatim",
            "-m",
            message,
            env=self._author_env,
        )
        return self.head()

    def push(self, *, to_branch: str | None = None) -> None:
        """Push HEAD to ``remote``/``branch``, or to ``remote``/``to_branch`` (never forced).

        Args:
            to_branch: another branch of the remote to push to (pull-request delivery's
                ``mendbot/<fix id>``); the remote-tracking ref of ``branch`` is then left
                as it is.

        Raises:
            PushRejected: the remote refused; ``non_fast_forward`` when it has commits
                that HEAD lacks.
        """
        target = to_branch or self.branch
        status, out, err = self._execute(
            ["push", "--porcelain", self.remote, f"HEAD:refs/heads/{target}"],
            timeout=self.network_timeout_seconds,
            check=False,
        )
        if status == 0:
            if target == self.branch:
                self.run("update-ref", self.tracking_ref, "HEAD")
            return
        refused = [line for line in out.splitlines() if line.startswith("!")]
        summary = refused[0].split("\t")[-1] if refused else ""
        non_ff = "[rejected]" in summary and (
            "non-fast-forward" in summary or "fetch first" in summary
        )
        detail = _last_lines(err) or summary or f"git push exited {status}"
        raise PushRejected(
            f"push to {self.remote}/{target} refused: {detail}", non_fast_forward=non_ff
        )

    def rebase_onto_remote(self) -> str:
        """Rebase the local commits onto the remote-tracking head; returns the new HEAD.

        Raises:
            RebaseConflict: it conflicts (the rebase is aborted; HEAD is as before).
        """
        status, _out, err = self._execute(
            ["rebase", "--quiet", self.tracking_ref], env=self._author_env, check=False
        )
        if status == 0:
            return self.head()
        conflicted = self.run("diff", "--name-only", "--diff-filter=U").split()
        self._execute(["rebase", "--abort"], check=False)
        where = ", ".join(conflicted) if conflicted else _last_lines(err)
        raise RebaseConflict(f"the fix conflicts with the remote's new commits ({where})")

    def abort_rebase_if_any(self) -> None:
        """Abort a rebase that a killed process left half done."""
        if (self.git_dir / "rebase-merge").exists() or (self.git_dir / "rebase-apply").exists():
            self._execute(["rebase", "--abort"], check=False)

    def keep_branch(self, name: str, sha: str) -> str:
        """Point local branch ``name`` at ``sha`` (created or moved); returns ``name``.

        Raises:
            GitCommandFailed: git failed.
        """
        self.run("branch", "--force", "--no-track", name, sha)
        return name

    def reset_hard(self, sha: str) -> None:
        """Point the current branch, index and tracked files at ``sha``.

        Raises:
            GitCommandFailed: git failed.
        """
        self.run("reset", "--hard", "--quiet", sha)

    def is_ancestor(self, sha: str, ref: str) -> bool:
        """True when commit ``sha`` is reachable from ``ref``."""
        status, _out, _err = self._execute(["merge-base", "--is-ancestor", sha, ref], check=False)
        return status == 0

    def find_fix_commit(self, proposal_id: str, ref: str | None = None) -> str | None:
        """The newest commit on ``ref`` (default: the remote-tracking branch) whose
        message carries the trailer ``Fix-Id: <proposal_id>``, or None."""
        return self.find_trailer(FIX_ID_TRAILER, proposal_id, ref)

    def find_trailer(self, trailer: str, value: str, ref: str | None = None) -> str | None:
        """The newest commit on ``ref`` (default: the remote-tracking branch) whose message
        has the line ``<trailer>: <value>``, or None (also when ``ref`` does not exist)."""
        status, out, _err = self._execute(
            [
                "log",
                ref or self.tracking_ref,
                "-n",
                "1",
                "--format=%H",
                "-E",
                f"--grep=^{trailer}: {re.escape(value)}$",
            ],
            check=False,
        )
        return out.strip() or None if status == 0 else None

    def attempt(self, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
        """Run ``git <args>`` and return ``(exit status, stdout, stderr)`` whatever the
        status (for commands whose failure is an answer, e.g. ``git apply --check``).

        Raises:
            GitCommandFailed: git could not be run at all.
        """
        return self._execute(list(args), env=env, check=False)

    def commit_url(self, sha: str) -> str | None:
        """A web link to ``sha`` when the remote is on a known forge, else None."""
        status, url, _err = self._execute(["remote", "get-url", self.remote], check=False)
        match = _FORGE_URL.match(url.strip()) if status == 0 else None
        if not match or match["host"] not in _FORGES:
            return None
        path = match["path"].strip("/")
        middle = "/-/commit/" if match["host"] == "gitlab.com" else "/commit/"
        if match["host"] == "bitbucket.org":
            middle = "/commits/"
        return f"https://{match['host']}/{path}{middle}{sha}"

    # --- running git ---------------------------------------------------------------------------
    def run(
        self,
        *args: str,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
    ) -> str:
        """Run ``git <args>`` in the checkout; returns stdout (stripped).

        Raises:
            GitCommandFailed: git exited non-zero or timed out (message scrubbed).
        """
        _status, out, _err = self._execute(list(args), timeout=timeout, env=env)
        return out.strip()

    def _execute(
        self,
        args: list[str],
        *,
        timeout: float | None = None,
        env: dict[str, str] | None = None,
        check: bool = True,
    ) -> tuple[int, str, str]:
        try:
            status, out, err = self.repo.git.execute(  # type: ignore[call-overload]
                # ssh never prompts; a GIT_SSH_COMMAND in the environment still wins.
                ["git", "-c", "core.sshCommand=ssh -o BatchMode=yes", *args],
                with_extended_output=True,
                with_exceptions=False,
                kill_after_timeout=timeout,
                env={**self._env, **(env or {})},
            )
        except (git.GitCommandError, OSError) as error:
            raise GitCommandFailed(f"git {args[0]} failed: {error}") from error
        if check and status != 0:
            raise GitCommandFailed(f"git {args[0]} failed: {_last_lines(err) or out}")
        return int(status or 0), str(out or ""), str(err or "")


def _last_lines(text: str, count: int = 3) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return " | ".join(lines[-count:])
