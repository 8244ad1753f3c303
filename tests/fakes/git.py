"""Test support: real git repositories with a real bare remote.

``make_repo(tmp_path, {"app.py": "..."})`` creates ``remote.git`` (bare), a working clone
``work`` on branch ``main`` with the files committed and pushed, and returns both paths.
``reject_pushes(bare)`` installs a ``pre-receive`` hook that exits 1, as a server that
refuses a push would; ``protect_branch(bare, "main")`` one that refuses only pushes to
that branch, as a protected branch on a forge does.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: The example service (a copy of ../shared/data/applogs/service, bundled so tests run
#: without the shared folder).
SERVICE_DIR = Path(__file__).resolve().parents[2] / "examples" / "service"

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.com",
}


def git(cwd: Path, *args: str) -> str:
    """Run git in ``cwd`` and return its stdout (stripped); raises on failure."""
    env = {**os.environ, **GIT_ENV}
    result = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True
    )
    return result.stdout.strip()


@dataclass
class RepoPair:
    """A working clone and its bare remote."""

    work: Path
    bare: Path

    def head(self) -> str:
        """The working clone's HEAD sha."""
        return git(self.work, "rev-parse", "HEAD")

    def remote_head(self, branch: str = "main") -> str:
        """The bare remote's sha for ``branch``."""
        return git(self.bare, "rev-parse", branch)

    def remote_message(self, branch: str = "main") -> str:
        """The full commit message at the remote's ``branch``."""
        return git(self.bare, "log", "-1", "--format=%B", branch)

    def push_from_elsewhere(self, tmp: Path, files: dict[str, str], message: str) -> str:
        """Commit ``files`` in a second clone and push them, as a colleague would.

        Returns:
            The new remote head sha.
        """
        other = tmp / f"other-{len(list(tmp.glob('other-*')))}"
        git(tmp, "clone", "-q", str(self.bare), str(other))
        for name, text in files.items():
            path = other / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        git(other, "add", "-A")
        git(other, "commit", "-q", "-m", message)
        git(other, "push", "-q", "origin", "main")
        return git(other, "rev-parse", "HEAD")


def make_repo(
    tmp: Path, files: dict[str, str] | None = None, *, copy_from: Path | None = None
) -> RepoPair:
    """Create ``tmp/remote.git`` and a clone ``tmp/work`` on ``main`` holding ``files``.

    Args:
        tmp: an empty scratch directory.
        files: relative path -> text, committed as the first commit.
        copy_from: a directory whose files are copied in first (e.g. :data:`SERVICE_DIR`).
    """
    bare = tmp / "remote.git"
    work = tmp / "work"
    git(tmp, "init", "-q", "--bare", "-b", "main", str(bare))
    git(tmp, "init", "-q", "-b", "main", str(work))
    if copy_from is not None:
        shutil.copytree(copy_from, work, dirs_exist_ok=True)
    for name, text in (files or {}).items():
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", "initial")
    git(work, "remote", "add", "origin", str(bare))
    git(work, "push", "-q", "-u", "origin", "main")
    git(work, "config", "user.name", GIT_ENV["GIT_COMMITTER_NAME"])
    git(work, "config", "user.email", GIT_ENV["GIT_COMMITTER_EMAIL"])
    return RepoPair(work=work, bare=bare)


def reject_pushes(bare: Path, message: str = "pushes are frozen") -> None:
    """Install a ``pre-receive`` hook in ``bare`` that refuses every push."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit 1\n")
    hook.chmod(0o755)


def protect_branch(bare: Path, branch: str = "main") -> None:
    """Install a ``pre-receive`` hook in ``bare`` that refuses every push to ``branch``
    (other branches are accepted), as GitHub does for a protected branch."""
    hook = bare / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        "while read old new ref; do\n"
        f'  if [ "$ref" = "refs/heads/{branch}" ]; then\n'
        f"    echo 'GH006: Protected branch update failed for refs/heads/{branch}.' >&2\n"
        "    exit 1\n"
        "  fi\n"
        "done\n"
        "exit 0\n"
    )
    hook.chmod(0o755)
