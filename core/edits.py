"""Shared contracts: whether an edit may touch the repository, and how it reads as a diff.

Used twice on every edit: when a proposal is built (diagnosis drops what fails) and again
by the implementor right before writing (the file may have changed since). The rules:

- the path is relative, stays inside the repository after resolving ``..`` and symlinks,
  and is not protected (``.git/``, ``.env*``, CI configuration, key and secret files);
- ``old_text`` occurs exactly once in the file as it is now; an empty ``old_text``
  creates a file, which must not exist yet and must be one :func:`may_create` allows (a
  fix's regression test, nothing else);
- the whole change stays under :data:`MAX_CHANGED_LINES` changed lines,
  :data:`MAX_EDIT_CHARS` characters of new text and :data:`MAX_FILES` files.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from core.proposals import REGRESSION_TEST_DIR, Edit

#: Largest change a proposal may carry: lines removed plus lines added, all edits together.
MAX_CHANGED_LINES = 200
#: Largest total size of the new text of all edits, in characters.
MAX_EDIT_CHARS = 20_000
#: Most distinct files one proposal may touch.
MAX_FILES = 5

#: Path patterns (matched against every path component and the whole relative path)
#: that no edit may touch.
PROTECTED_PATTERNS: tuple[str, ...] = (
    ".git",
    ".git/*",
    ".env",
    ".env.*",
    "*.env",
    ".github",
    ".github/*",
    ".gitlab-ci.yml",
    ".gitlab",
    ".circleci",
    ".circleci/*",
    "Jenkinsfile",
    ".ci",
    ".ci/*",
    ".buildkite",
    "azure-pipelines.yml",
    ".travis.yml",
    "bitbucket-pipelines.yml",
    ".pre-commit-config.yaml",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "id_rsa*",
    "id_ed25519*",
    "*.keystore",
    ".npmrc",
    ".pypirc",
    ".netrc",
    ".htpasswd",
    "credentials",
    "credentials.*",
    "secrets",
    "secrets.*",
    "*.secret",
    "*.secrets",
    ".ssh",
    ".aws",
    ".docker",
)


_REGRESSION_TEST = re.compile(
    re.escape(REGRESSION_TEST_DIR) + r"/test_fix_\d{8}_\d{6}(?:_\d+)?\.py"
)


def may_create(relative_path: str) -> bool:
    """Whether a proposal may create this file: only a fix's regression test.

    A new module is a bigger decision than a fix; the one exception is the proof of one,
    ``tests/mendbot/test_<fix id>.py`` (:func:`core.proposals.regression_test_path`), matched
    exactly.
    """
    return _REGRESSION_TEST.fullmatch(relative_path) is not None


class EditRejected(ValueError):
    """An edit breaks a rule; ``str(e)`` says which, in words fit for a person."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def is_protected(relative_path: str) -> bool:
    """True when a repository-relative POSIX path is one no edit may touch."""
    parts = PurePosixPath(relative_path).parts
    for pattern in PROTECTED_PATTERNS:
        if fnmatch.fnmatch(relative_path, pattern):
            return True
        if any(fnmatch.fnmatch(part, pattern) for part in parts):
            return True
    return False


def resolve_in_repo(repo_root: Path, relative_path: str) -> Path:
    """The absolute path of ``relative_path`` inside ``repo_root``.

    Raises:
        EditRejected: the path is empty, absolute, leaves the repository (``..``, a
            symlink pointing out), or is protected.
    """
    raw = relative_path.replace("\\", "/")
    if not raw or raw.strip() != raw:
        raise EditRejected(relative_path, "empty or padded path")
    if raw.startswith("/") or PurePosixPath(raw).is_absolute() or ":" in raw.split("/")[0]:
        raise EditRejected(relative_path, "absolute paths are not allowed")
    if ".." in PurePosixPath(raw).parts:
        raise EditRejected(relative_path, "path leaves the repository")
    root = repo_root.resolve()
    target = (root / raw).resolve()
    if target != root and root not in target.parents:
        raise EditRejected(relative_path, "path leaves the repository")
    normalised = target.relative_to(root).as_posix()
    if is_protected(raw) or is_protected(normalised):
        raise EditRejected(relative_path, "protected file (git, env, CI or secrets)")
    return target


def check_edit(repo_root: Path, edit: Edit) -> Path:
    """Check one edit against the repository as it is now.

    Returns:
        The absolute path the edit would write.

    Raises:
        EditRejected: see the module docstring for the rules.
    """
    target = resolve_in_repo(repo_root, edit.path)
    if edit.old_text == "":
        if not may_create(edit.path):
            raise EditRejected(edit.path, "creates a new file (only a fix's regression test may)")
        if target.exists():
            raise EditRejected(edit.path, "file exists; a new file needs a path that does not")
        return target
    if not target.is_file():
        raise EditRejected(edit.path, "file does not exist")
    if edit.old_text == edit.new_text:
        raise EditRejected(edit.path, "old and new text are the same")
    apply_to_text(read_exact(target, edit.path), edit)
    return target


def read_exact(target: Path, shown_as: str) -> str:
    """A file's text exactly as stored (UTF-8, line endings untouched).

    Raises:
        EditRejected: it cannot be read or is not UTF-8 (``shown_as`` names it).
    """
    try:
        return target.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise EditRejected(shown_as, "file is not UTF-8 text") from error
    except OSError as error:
        raise EditRejected(shown_as, f"cannot read the file ({error.strerror})") from error


def apply_to_text(text: str, edit: Edit) -> str:
    """``text`` with the edit's ``old_text`` replaced once by its ``new_text``.

    In a file with CRLF line endings, an edit written with ``\n`` (as LMs write) is
    matched and applied with ``\r\n``, so the file keeps its line endings.

    Raises:
        EditRejected: ``old_text`` does not occur exactly once in ``text``.
    """
    old, new = edit.old_text, edit.new_text
    if "\r\n" in text and "\r" not in old:
        old, new = old.replace("\n", "\r\n"), new.replace("\n", "\r\n")
    occurrences = text.count(old)
    if occurrences != 1:
        where = "does not occur" if occurrences == 0 else f"occurs {occurrences} times"
        raise EditRejected(edit.path, f"old text {where} in the file (must be exactly once)")
    return text.replace(old, new, 1)


def check_edits(repo_root: Path, edits: Sequence[Edit]) -> list[Path]:
    """Check every edit and the size of the whole change.

    Returns:
        The absolute target paths, in edit order.

    Raises:
        EditRejected: the first rule broken (edits to the same file must not overlap:
            each ``old_text`` is checked against the file as it is now).
    """
    targets = [check_edit(repo_root, edit) for edit in edits]
    files = set(targets)
    if len(files) > MAX_FILES:
        raise EditRejected(edits[0].path, f"touches {len(files)} files (limit {MAX_FILES})")
    changed = changed_lines(edits)
    if changed > MAX_CHANGED_LINES:
        raise EditRejected(edits[0].path, f"changes {changed} lines (limit {MAX_CHANGED_LINES})")
    size = sum(len(edit.new_text) for edit in edits)
    if size > MAX_EDIT_CHARS:
        raise EditRejected(edits[0].path, f"adds {size} characters (limit {MAX_EDIT_CHARS})")
    return targets


def planned_contents(repo_root: Path, edits: Sequence[Edit]) -> dict[Path, bytes]:
    """Check the edits, then compute every touched file's new bytes without writing.

    Edits to the same file apply in order, each to the text the previous ones left.

    Returns:
        Absolute path -> new content (UTF-8), in the order the files are first edited.

    Raises:
        EditRejected: a rule is broken (see :func:`check_edits`), or two edits to one
            file overlap so that a later ``old_text`` no longer occurs exactly once.
    """
    targets = check_edits(repo_root, edits)
    texts: dict[Path, str] = {}
    for target, edit in zip(targets, edits, strict=True):
        if edit.old_text == "":
            if target in texts:
                raise EditRejected(edit.path, "two edits create the same file")
            texts[target] = edit.new_text
            continue
        current = texts.get(target)
        if current is None:
            current = read_exact(target, edit.path)
        try:
            texts[target] = apply_to_text(current, edit)
        except EditRejected as error:
            raise EditRejected(edit.path, f"edits overlap: {error.reason}") from error
    return {target: text.encode("utf-8") for target, text in texts.items()}


def changed_lines(edits: Sequence[Edit]) -> int:
    """Lines removed plus lines added over all edits (a unified diff's ``-``/``+`` lines)."""
    total = 0
    for edit in edits:
        for line in difflib.ndiff(edit.old_text.splitlines(), edit.new_text.splitlines()):
            if line[:1] in "+-":
                total += 1
    return total


def unified_diff(edits: Sequence[Edit], *, repo_root: Path | None = None, context: int = 3) -> str:
    """A ``git diff``-style text of the edits.

    With ``repo_root``, hunks are computed against the file content so line numbers are
    real; without it (or when the file cannot be read, is outside the repository or
    protected, or the old text no longer matches) each edit is shown on its own.
    """
    chunks: list[str] = []
    for edit in edits:
        before, after = edit.old_text, edit.new_text
        if repo_root is not None and edit.old_text:
            try:  # never read outside the repository or a protected file to show a diff
                text = read_exact(resolve_in_repo(repo_root, edit.path), edit.path)
                before, after = text, apply_to_text(text, edit)
            except EditRejected:
                pass
        source = "/dev/null" if edit.old_text == "" else f"a/{edit.path}"
        lines = difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=source,
            tofile=f"b/{edit.path}",
            n=context,
        )
        chunks.append("".join(line if line.endswith("\n") else line + "\n" for line in lines))
    return "".join(chunks)
