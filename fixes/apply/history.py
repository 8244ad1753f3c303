"""Fixes apply: what a pushed commit changed, and what undoing it would write today.

Both read git only, never the working tree or the real index:

- :func:`changed_lines`: the line ranges a commit changed, in the new file's numbering
  (``git diff -U0 <sha>^ <sha>``; for a merge commit, its first parent), so that a new
  error whose innermost in-app frame lies in them can be pinned on the fix.
- :func:`revert_contents`: the bytes each file would have after ``git revert <sha>`` on top
  of the current HEAD, computed as ``git revert`` does (a three-way merge of the reverse
  patch, ``git apply --3way``) in a temporary index. When later commits touched the same
  lines the merge conflicts and :class:`RevertConflict` names the files; nothing in the
  checkout has changed.

Errors::

    GitOpsError
    └── RevertConflict      the revert does not apply cleanly to HEAD (``.paths``)
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from fixes.apply.gitops import GitCommandFailed, GitOps, GitOpsError

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@", re.M)
_NEW_FILE = re.compile(r"^\+\+\+ (?:b/(?P<path>.+)|/dev/null)$", re.M)


class RevertConflict(GitOpsError):
    """Undoing the commit conflicts with later commits to the same lines."""

    def __init__(self, message: str, *, paths: list[str]) -> None:
        super().__init__(message)
        self.paths = paths


def changed_lines(gitops: GitOps, sha: str) -> dict[str, list[tuple[int, int]]]:
    """The lines commit ``sha`` changed: repository path -> inclusive 1-based ranges in
    the file as the commit left it. A hunk that only deletes lines is the one line after
    the deletion; a file the commit deleted is left out.

    Raises:
        GitCommandFailed: ``sha`` is not a commit of the checkout.
    """
    diff = gitops.run("diff", "-U0", "--no-color", "--no-ext-diff", f"{sha}^", sha)
    ranges: dict[str, list[tuple[int, int]]] = {}
    for section in re.split(r"^diff --git ", diff, flags=re.M)[1:]:
        target = _NEW_FILE.search(section)
        if target is None or target["path"] is None:
            continue
        for hunk in _HUNK.finditer(section):
            start = int(hunk["start"])
            count = 1 if hunk["count"] is None else int(hunk["count"])
            first = max(1, start if count else start + 1)
            ranges.setdefault(target["path"], []).append((first, first + max(count, 1) - 1))
    return ranges


def revert_contents(gitops: GitOps, sha: str) -> dict[Path, bytes | None]:
    """What each file touched by ``sha`` would hold after reverting it on top of HEAD.

    Returns:
        Absolute path -> new bytes, or None for a file the revert deletes (one the fix
        created); only files whose bytes differ from HEAD's, in path order. Empty when
        HEAD no longer holds any of the fix's changes.

    Raises:
        RevertConflict: later commits changed the same lines (names the files).
        GitCommandFailed: ``sha`` is unknown or git failed otherwise.
    """
    status, patch, err = gitops.attempt(
        "diff", "--binary", "--full-index", "--no-color", "--no-ext-diff", sha, f"{sha}^"
    )
    if status != 0:
        raise GitCommandFailed(f"git diff of {sha} failed: {_last_line(err)}")
    if not patch.strip():
        return {}
    with tempfile.TemporaryDirectory(prefix="mendbot-revert-") as scratch:
        index = os.path.join(scratch, "index")
        patch_file = Path(scratch, "revert.patch")
        patch_file.write_text(patch + "\n", encoding="utf-8")
        env = {"GIT_INDEX_FILE": index}
        gitops.run("read-tree", "HEAD", env=env)
        status, out, err = gitops.attempt(
            "apply", "--cached", "--3way", "--whitespace=nowarn", str(patch_file), env=env
        )
        staged = _stage_entries(gitops, env)
    conflicted = sorted({path for path, (_blob, stage) in staged.items() if stage != 0})
    if status != 0 or conflicted:
        where = ", ".join(conflicted) or _last_line(err or out)
        raise RevertConflict(
            f"later commits changed the lines this fix changed ({where})", paths=conflicted
        )
    return _differences(gitops, sha, {path: blob for path, (blob, _s) in staged.items()})


def _stage_entries(gitops: GitOps, env: dict[str, str]) -> dict[str, tuple[str, int]]:
    """Path -> (blob sha, highest stage) of the temporary index."""
    _status, listing, _err = gitops.attempt("ls-files", "--stage", "-z", env=env)
    entries: dict[str, tuple[str, int]] = {}
    for record in filter(None, listing.split("\0")):
        meta, path = record.split("\t", 1)
        _mode, blob, stage = meta.split()
        previous = entries.get(path)
        entries[path] = (blob, max(int(stage), previous[1] if previous else 0))
    return entries


def _differences(gitops: GitOps, sha: str, staged: dict[str, str]) -> dict[Path, bytes | None]:
    """The fix's files whose reverted blob differs from HEAD's: their new bytes."""
    touched = gitops.run("diff", "--name-only", "-z", "--no-renames", f"{sha}^", sha)
    contents: dict[Path, bytes | None] = {}
    for path in sorted(filter(None, touched.split("\0"))):
        head_blob = _blob_at(gitops, "HEAD", path)
        new_blob = staged.get(path)
        if new_blob == head_blob:
            continue
        target = gitops.root / path
        contents[target] = None if new_blob is None else _blob_bytes(gitops, new_blob)
    return contents


def _blob_at(gitops: GitOps, ref: str, path: str) -> str | None:
    status, out, _err = gitops.attempt("rev-parse", "--verify", "--quiet", f"{ref}:{path}")
    return out.strip() if status == 0 and out.strip() else None


def _blob_bytes(gitops: GitOps, blob: str) -> bytes:
    """A blob's exact bytes (GitPython's stream, so binary content survives)."""
    try:
        return bytes(gitops.repo.odb.stream(bytes.fromhex(blob)).read())
    except (ValueError, OSError) as error:
        raise GitCommandFailed(f"git cat-file {blob} failed: {error}") from error


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "git apply refused the reverse patch"
