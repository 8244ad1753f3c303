"""Orchestration: a scratch git copy of a service with a bare remote (``scan --repo``, ``eval``).

:func:`scratch_repository` copies a folder's files (never its ``.git``, virtualenvs or
caches) into ``work/service``, commits them on ``main`` and pushes to a bare
``work/remote.git`` (``origin``), so that diagnosis reads real code and ``fixes implement``
can back up, commit and push there, while the folder it came from is only ever read.

Errors: ``OSError`` when the folder cannot be copied, ``subprocess.CalledProcessError``
when git fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

#: Who made the scratch copy's first commit.
SCRATCH_IDENTITY = {
    "GIT_AUTHOR_NAME": "mendbot",
    "GIT_AUTHOR_EMAIL": "mendbot@localhost",
    "GIT_COMMITTER_NAME": "mendbot",
    "GIT_COMMITTER_EMAIL": "mendbot@localhost",
}
_IGNORED = shutil.ignore_patterns(
    ".git", "__pycache__", ".pytest_cache", ".mypy_cache", "*.pyc", ".venv", "venv", "node_modules"
)


def scratch_repository(source: Path, work: Path, *, message: str = "the service as given") -> Path:
    """Copy ``source`` into a new git repository ``work/service`` pushed to ``work/remote.git``.

    Args:
        source: the folder to copy (read only).
        work: an empty or new folder to hold the copy and its remote.
        message: the first commit's message.

    Returns:
        The copy's path, ``work/service`` (branch ``main``, remote ``origin``).
    """
    repo, bare = work / "service", work / "remote.git"
    shutil.copytree(source, repo, ignore=_IGNORED)
    _git(work, "init", "-q", "--bare", "-b", "main", str(bare))
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "--allow-empty", "-m", message)
    _git(repo, "remote", "add", "origin", str(bare))
    _git(repo, "push", "-q", "-u", "origin", "main")
    return repo


def _git(cwd: Path, *args: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    subprocess.run(
        ["git", *args], cwd=cwd, env={**env, **SCRATCH_IDENTITY}, check=True, capture_output=True
    )
