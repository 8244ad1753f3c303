"""Shared contracts: whether an edit may touch the repository, and how it reads as a diff.

The path and text rules of every edit, part of :func:`core.review.review_change` (which
runs when a proposal is built and again right before it is written). The rules:

- the path is relative, at most :data:`MAX_PATH_CHARS` characters, free of control and
  invisible characters and of look-alike letters mixed with Latin ones, stays inside the
  repository after resolving ``..`` and symlinks, and is not protected by the
  :class:`~core.policy.EditPolicy` (as written nor where a symlink leads);
- it names a file that exists, or creates the one file :func:`may_create` allows (a
  fix's regression test, nothing else), which must not exist yet;
- ``old_text`` occurs exactly once in the file as it is now;
- the whole change stays within the policy's caps: edits, characters, files and
  changed lines.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from core.policy import DEFAULT_POLICY, EditPolicy
from core.proposals import REGRESSION_TEST_DIR, Edit

#: Longest repository-relative path accepted, in characters (one part: 255 UTF-8 bytes).
MAX_PATH_CHARS = 1024
MAX_PART_BYTES = 255
#: Scripts whose letters pass for Latin ones: a path part mixing them with Latin is refused.
LOOKALIKE_SCRIPTS = frozenset({"CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE", "COPTIC"})
#: Unicode categories no path may hold: controls, format (zero-width, bidi), unassigned,
#: private use, surrogates, line and paragraph separators.
_INVISIBLE = frozenset({"Cc", "Cf", "Cn", "Co", "Cs", "Zl", "Zp"})


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


def locate_in_repo(repo_root: Path, relative_path: str) -> Path:
    """The absolute path of ``relative_path`` inside ``repo_root`` (protection not checked).

    Raises:
        EditRejected: the path is empty, padded, too long, holds invisible characters or
            mixes look-alike scripts with Latin, is absolute, or leaves the repository
            (``..``, a symlink pointing out).
    """
    raw = relative_path.replace("\\", "/")
    if not raw or raw.strip() != raw:
        raise EditRejected(relative_path, "empty or padded path")
    _check_spelling(relative_path, raw)
    if raw.startswith("/") or PurePosixPath(raw).is_absolute() or ":" in raw.split("/")[0]:
        raise EditRejected(relative_path, "absolute paths are not allowed")
    if ".." in PurePosixPath(raw).parts:
        raise EditRejected(relative_path, "path leaves the repository")
    root = repo_root.resolve()
    target = (root / raw).resolve()
    if target != root and root not in target.parents:
        raise EditRejected(relative_path, "path leaves the repository")
    return target


def resolve_in_repo(
    repo_root: Path, relative_path: str, policy: EditPolicy = DEFAULT_POLICY
) -> Path:
    """The absolute path of ``relative_path`` inside ``repo_root``, if it may be edited.

    Protection is checked on the path as written and on where it leads (a symlink inside
    the repository to a protected file is protected).

    Raises:
        EditRejected: as :func:`locate_in_repo`, or the path is protected by ``policy``.
    """
    target = locate_in_repo(repo_root, relative_path)
    check_unprotected(repo_root, relative_path, target, policy)
    return target


def check_unprotected(
    repo_root: Path, relative_path: str, target: Path, policy: EditPolicy = DEFAULT_POLICY
) -> None:
    """Refuse a path that ``policy`` protects, as written or as resolved to ``target``.

    Raises:
        EditRejected: naming the pattern that protects it.
    """
    normalised = target.relative_to(repo_root.resolve()).as_posix()
    for candidate in (relative_path.replace("\\", "/"), normalised):
        pattern = policy.protected_by(candidate)
        if pattern is not None:
            raise EditRejected(relative_path, f"protected path (matches {pattern})")


def _check_spelling(shown: str, raw: str) -> None:
    if len(raw) > MAX_PATH_CHARS or any(
        len(part.encode("utf-8", "surrogatepass")) > MAX_PART_BYTES for part in raw.split("/")
    ):
        raise EditRejected(shown[:80] + "...", "path too long")
    if any(unicodedata.category(ch) in _INVISIBLE for ch in raw) or any(
        unicodedata.category(ch) == "Zs" and ch != " " for ch in raw
    ):
        raise EditRejected(ascii(shown), "path holds control or invisible characters")
    for part in raw.split("/"):
        scripts = {unicodedata.name(ch, "?").split(" ")[0] for ch in part if ch.isalpha()}
        if "LATIN" in scripts and scripts & LOOKALIKE_SCRIPTS:
            raise EditRejected(ascii(shown), "path mixes look-alike letters of other scripts")


def check_edit(repo_root: Path, edit: Edit, policy: EditPolicy = DEFAULT_POLICY) -> Path:
    """Check one edit against the repository as it is now.

    Returns:
        The absolute path the edit would write.

    Raises:
        EditRejected: see the module docstring for the rules.
    """
    target = locate_in_repo(repo_root, edit.path)
    if edit.old_text == "":
        if not may_create(edit.path):
            raise EditRejected(
                edit.path,
                "creates a new file (new files are protected but a fix's regression test)",
            )
        if target.exists():
            raise EditRejected(edit.path, "file exists; a new file needs a path that does not")
        return target
    check_unprotected(repo_root, edit.path, target, policy)
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


def check_edits(
    repo_root: Path, edits: Sequence[Edit], policy: EditPolicy = DEFAULT_POLICY
) -> list[Path]:
    """Check every edit and the size of the whole change.

    Returns:
        The absolute target paths, in edit order.

    Raises:
        EditRejected: the first rule broken (edits to the same file must not overlap:
            each ``old_text`` is checked against the file as it is now).
    """
    if len(edits) > policy.max_edits:
        raise EditRejected(edits[0].path, f"{len(edits)} edits (limit {policy.max_edits})")
    size = sum(len(edit.new_text) + len(edit.old_text) for edit in edits)
    if size > policy.max_edit_chars:
        raise EditRejected(
            edits[0].path, f"edits hold {size} characters (limit {policy.max_edit_chars})"
        )
    targets = [check_edit(repo_root, edit, policy) for edit in edits]
    files = set(targets)
    if len(files) > policy.max_files:
        raise EditRejected(edits[0].path, f"touches {len(files)} files (limit {policy.max_files})")
    changed = changed_lines(edits)
    if changed > policy.max_changed_lines:
        raise EditRejected(
            edits[0].path, f"changes {changed} lines (limit {policy.max_changed_lines})"
        )
    return targets


def planned_texts(
    repo_root: Path, edits: Sequence[Edit], policy: EditPolicy = DEFAULT_POLICY
) -> dict[Path, tuple[str, str]]:
    """Check the edits, then compute every touched file's text before and after, in memory.

    Edits to the same file apply in order, each to the text the previous ones left.

    Returns:
        Absolute path -> (text now, text after the edits), in the order the files are
        first edited; texts exactly as stored (line endings kept).

    Raises:
        EditRejected: a rule is broken (see :func:`check_edits`), or two edits to one
            file overlap so that a later ``old_text`` no longer occurs exactly once.
    """
    targets = check_edits(repo_root, edits, policy)
    texts: dict[Path, tuple[str, str]] = {}
    for target, edit in zip(targets, edits, strict=True):
        if edit.old_text == "":
            if target in texts:
                raise EditRejected(edit.path, "two edits create the same file")
            texts[target] = ("", edit.new_text)
            continue
        before, current = texts.get(target) or (read_exact(target, edit.path),) * 2
        try:
            texts[target] = (before, apply_to_text(current, edit))
        except EditRejected as error:
            raise EditRejected(edit.path, f"edits overlap: {error.reason}") from error
    return texts


def planned_contents(
    repo_root: Path, edits: Sequence[Edit], policy: EditPolicy = DEFAULT_POLICY
) -> dict[Path, bytes]:
    """The new bytes (UTF-8) of every file the edits touch, without writing.

    Returns:
        Absolute path -> new content, in the order the files are first edited.

    Raises:
        EditRejected: as :func:`planned_texts`.
    """
    planned = planned_texts(repo_root, edits, policy)
    return {target: after.encode("utf-8") for target, (_, after) in planned.items()}


def changed_lines(edits: Sequence[Edit]) -> int:
    """Lines removed plus lines added over all edits (a unified diff's ``-``/``+`` lines)."""
    total = 0
    for edit in edits:
        old, new = edit.old_text.splitlines(), edit.new_text.splitlines()
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag != "equal":
                total += (i2 - i1) + (j2 - j1)
    return total


def unified_diff(
    edits: Sequence[Edit],
    *,
    repo_root: Path | None = None,
    context: int = 3,
    policy: EditPolicy = DEFAULT_POLICY,
) -> str:
    """A ``git diff``-style text of the edits.

    With ``repo_root``, hunks are computed against the file content so line numbers are
    real; without it (or when the file cannot be read, is outside the repository or
    protected by ``policy``, or the old text no longer matches) each edit is shown on its
    own.
    """
    chunks: list[str] = []
    for edit in edits:
        before, after = edit.old_text, edit.new_text
        if repo_root is not None and edit.old_text:
            try:  # never read outside the repository or a protected file to show a diff
                text = read_exact(resolve_in_repo(repo_root, edit.path, policy), edit.path)
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
