"""Diagnosis context: a read-only view of the service's repository (TARGET_REPO_PATH).

:class:`RepoIndex` lists the repository's files once per cycle (``git ls-files`` when the
directory is a git checkout, else a walk that skips virtualenvs, caches and hidden
folders), and reads and parses them on demand with a per-index cache. It never writes and
never reads through a symlink (whose target may be outside the repository or protected).

Bounds: at most :data:`MAX_FILES` files are listed, files over :data:`MAX_FILE_BYTES`
or not UTF-8 are treated as unreadable.

Traceback paths are mapped to repository files by their longest suffix that names a
listed file, so deployment prefixes (``/app/``, ``/srv/service/``, ``C:\\build\\``) fall
away; library frames (``site-packages``, ``dist-packages``, the interpreter's ``lib/
python3.x``, ``<frozen ...>``), paths with ``..`` parts, control characters or more than
:data:`MAX_FRAME_PATH_CHARS` characters, and files the policy protects never map. A file
mapped is not evidence yet: :mod:`core.evidence` checks the frame against the code.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
from pathlib import Path, PurePosixPath

from core.policy import DEFAULT_POLICY, EditPolicy

#: Most files listed from one repository.
MAX_FILES = 5_000
#: Files larger than this (bytes) are not read.
MAX_FILE_BYTES = 512 * 1024
#: Longest traceback path mapped to a file (longer ones are planted, not printed).
MAX_FRAME_PATH_CHARS = 1024
#: Seconds allowed for ``git ls-files``.
GIT_TIMEOUT_SECONDS = 10.0

_SKIP_DIRS = frozenset(
    {
        ".git",
        ".venv",
        "venv",
        "env",
        "node_modules",
        "__pycache__",
        "site-packages",
        "dist-packages",
        "build",
        "dist",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".pytest_cache",
    }
)
_LIBRARY_PATH = re.compile(
    r"/(?:site-packages|dist-packages|\.venv|venv|node_modules)/|/lib/python\d[\d.]*/"
)


class RepoIndex:
    """The files of one repository, with cached text and Python syntax trees.

    Args:
        root: the repository's root directory (resolved; need not be a git checkout).
        policy: which files are protected (never mapped from a frame, never evidence).
    """

    def __init__(self, *, root: Path, policy: EditPolicy = DEFAULT_POLICY) -> None:
        self.root = root.resolve()
        self.policy = policy
        self.files: tuple[str, ...] = tuple(sorted(_list_files(self.root)))
        self._file_set = frozenset(self.files)
        self._texts: dict[str, str | None] = {}
        self._trees: dict[str, ast.Module | None] = {}

    def __contains__(self, path: str) -> bool:
        return path in self._file_set

    def text(self, path: str) -> str | None:
        """The UTF-8 text of a listed file, or None (unlisted, too large, binary, gone)."""
        if path not in self._texts:
            self._texts[path] = self._read(path)
        return self._texts[path]

    def lines(self, path: str) -> list[str]:
        """The file's lines without line ends (empty when unreadable)."""
        text = self.text(path)
        return text.splitlines() if text is not None else []

    def tree(self, path: str) -> ast.Module | None:
        """The parsed module for a ``.py`` file, or None (not Python, syntax error)."""
        if path not in self._trees:
            text = self.text(path) if path.endswith(".py") else None
            try:
                self._trees[path] = ast.parse(text) if text is not None else None
            except (SyntaxError, ValueError):
                self._trees[path] = None
        return self._trees[path]

    def map_frame_file(self, frame_file: str) -> str | None:
        """The repository path a traceback frame's file stands for, or None.

        Args:
            frame_file: the path as printed in the traceback, e.g. ``/app/app.py``.

        Returns:
            A listed, unprotected, repository-relative POSIX path, e.g. ``app.py``; None for
            library frames and files the repository does not hold.
        """
        normalised = frame_file.strip().replace("\\", "/")
        if not _plausible_frame_path(normalised):
            return None
        parts = [p for p in PurePosixPath(normalised).parts if p not in ("/", "")]
        if parts and parts[0].endswith(":"):
            parts = parts[1:]  # a Windows drive
        for start in range(len(parts)):
            candidate = "/".join(parts[start:])
            if candidate in self._file_set and not self.policy.is_protected(candidate):
                return candidate
        return None

    def editable(self, path: str) -> bool:
        """True for a listed file the policy does not protect."""
        return path in self._file_set and not self.policy.is_protected(path)

    def _read(self, path: str) -> str | None:
        if path not in self._file_set:
            return None
        target = (self.root / path).resolve()
        if target != self.root / path:
            return None  # a symlink: its target is judged under its own name, or not at all
        try:
            if target.stat().st_size > MAX_FILE_BYTES:
                return None
            return target.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None


def _plausible_frame_path(path: str) -> bool:
    """False for what a real traceback does not print for the service's own code."""
    return bool(
        path
        and len(path) <= MAX_FRAME_PATH_CHARS
        and not path.startswith("<")
        and path.isprintable()
        and ".." not in path.split("/")
        and not is_library_path(path)
    )


def is_library_path(path: str) -> bool:
    """True for a traceback path inside an installed package or the interpreter."""
    normalised = "/" + path.replace("\\", "/").lstrip("/")
    return _LIBRARY_PATH.search(normalised) is not None


def _list_files(root: Path) -> list[str]:
    """Repository-relative POSIX paths of the files to consider (at most MAX_FILES)."""
    listed = _git_files(root)
    if listed is None:
        listed = _walk_files(root)
    return [path for path in listed[:MAX_FILES] if not is_library_path(path)]


def _git_files(root: Path) -> list[str] | None:
    if not (root / ".git").exists():
        return None
    try:
        result = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=root,
            capture_output=True,
            timeout=GIT_TIMEOUT_SECONDS,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    names = result.stdout.decode("utf-8", errors="replace").split("\0")
    return [name for name in names if name and (root / name).is_file()]


def _walk_files(root: Path) -> list[str]:
    found: list[str] = []
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
        base = Path(directory).relative_to(root)
        for name in sorted(filenames):
            found.append((base / name).as_posix())
            if len(found) >= MAX_FILES:
                return found
    return found
