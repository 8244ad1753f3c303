"""Fixes apply: the write-ahead journal, byte-exact file backups and the apply lock.

Everything lives under ``<git dir>/mendbot/`` (``.git/mendbot/`` in a normal checkout): git
never tracks or commits it, a ``git clean`` does not remove it, and it survives a crash::

    .git/mendbot/
        apply.lock              flock held by the process applying a fix (one at a time)
        journal.json            the transaction in progress (absent when none is)
        backups/<fix id>/<n>    the bytes of each file before the fix touched it

The journal is written (atomically: temp file, fsync, rename) before the first file is
touched, and again before every later step, so a process killed at any point leaves a
journal saying what to undo. :class:`JournalEntry.phase` is the last step that started:

- ``backed_up``: backups taken, files about to be written;
- ``written``: the fix is in the working tree, being validated;
- ``committed``: the fix commit exists locally (``commit_sha``), push not confirmed;
- ``pushed``: the remote has it; only clean-up was left.

Errors::

    JournalError        the journal or a backup cannot be read or written (``.path``)
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import socket
import stat
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

from core.clock import utcnow

JOURNAL_DIRNAME = "mendbot"
_LOCK_POLL_SECONDS = 0.05


class JournalError(Exception):
    """The journal or a backup cannot be read or written."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path


class Phase(StrEnum):
    """The last step of an apply that started (see the module docstring)."""

    BACKED_UP = "backed_up"
    WRITTEN = "written"
    COMMITTED = "committed"
    PUSHED = "pushed"


class FileBackup(BaseModel):
    """One file the fix touches, as it was before.

    Attributes:
        path: POSIX path relative to the repository root.
        existed: False when the fix creates the file (rollback deletes it).
        backup: name of the copy under ``backups/<fix id>/`` when it existed.
        mode: permission bits (``stat.S_IMODE``) of the original.
        sha256: hex digest of the original bytes (checked when restoring).
    """

    path: str
    existed: bool
    backup: str | None = None
    mode: int | None = None
    sha256: str | None = None


class JournalEntry(BaseModel):
    """The transaction in progress.

    Attributes:
        proposal_id: the fix being applied (or reverted).
        kind: ``fix`` (applying a proposal) or ``revert`` (``git revert`` of its pushed
            commit); recovery looks for the matching trailer on the remote.
        phase: the last step that started.
        branch, remote: ``GIT_BRANCH`` and ``GIT_REMOTE`` at the time.
        base_sha: HEAD before the fix (after fast-forwarding).
        reset_to: where the checkout returns if the fix commit is abandoned (the remote
            head it was last based on).
        commit_sha: the fix commit once made.
        files: the files touched, in edit order.
        created_dirs: directories the fix creates (removed on rollback), deepest last.
        host, pid: the process that wrote it.
        started_at: aware UTC.
    """

    proposal_id: str
    kind: Literal["fix", "revert"] = "fix"
    phase: Phase
    branch: str
    remote: str
    base_sha: str
    reset_to: str
    commit_sha: str | None = None
    files: list[FileBackup] = Field(default_factory=list)
    created_dirs: list[str] = Field(default_factory=list)
    host: str = ""
    pid: int = 0
    started_at: datetime


class Journal:
    """The journal, backups and lock of one checkout.

    Args:
        git_dir: the checkout's git directory (``<repo>/.git``).
        repo_root: the working tree root that journal paths are relative to.
    """

    def __init__(self, *, git_dir: Path, repo_root: Path) -> None:
        self.dir = git_dir / JOURNAL_DIRNAME
        self.repo_root = repo_root
        self.path = self.dir / "journal.json"
        self._local = threading.local()

    # --- the lock ----------------------------------------------------------------------------
    @contextmanager
    def lock(self, *, wait_seconds: float | None = None) -> Iterator[bool]:
        """Hold the checkout's apply lock (re-entrant within a thread).

        Args:
            wait_seconds: how long to wait for another holder, in seconds; 0 tries once,
                None waits as long as it takes.

        Yields:
            True when the lock is held, False when it could not be taken in time.

        The lock is an ``flock`` on ``apply.lock``: the kernel releases it when the holder
        dies, so a held lock always means a live process is applying.

        Raises:
            JournalError: ``.git/mendbot/`` cannot be created.
            OSError: the lock file cannot be opened.
        """
        depth = getattr(self._local, "depth", 0)
        if depth:
            self._local.depth = depth + 1
            try:
                yield True
            finally:
                self._local.depth -= 1
            return
        self._ensure_dir()
        fd = os.open(self.dir / "apply.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if not _flock(fd, wait_seconds):
                yield False
                return
            self._local.depth = 1
            try:
                yield True
            finally:
                self._local.depth = 0
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    # --- the journal -------------------------------------------------------------------------
    def read(self) -> JournalEntry | None:
        """The transaction in progress, or None.

        Raises:
            JournalError: the journal exists but cannot be read or parsed.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as error:
            raise JournalError(self.path, f"cannot read: {error}") from error
        try:
            return JournalEntry.model_validate_json(text)
        except ValidationError as error:
            raise JournalError(self.path, f"not a mendbot journal: {error}") from error

    def begin(
        self,
        *,
        proposal_id: str,
        branch: str,
        remote: str,
        base_sha: str,
        paths: Sequence[Path],
        kind: Literal["fix", "revert"] = "fix",
    ) -> JournalEntry:
        """Back up every file in ``paths`` and write the journal (phase ``backed_up``).

        Args:
            paths: absolute paths inside ``repo_root`` that the fix will write (or delete).
            kind: ``fix``, or ``revert`` for undoing a pushed fix.

        Returns:
            The journal entry as written.

        Raises:
            JournalError: a journal already exists (recover first), or a backup or the
                journal cannot be written.
        """
        if self.path.exists():
            raise JournalError(self.path, "an unfinished apply is recorded; recover it first")
        backup_dir = self.dir / "backups" / proposal_id
        shutil.rmtree(backup_dir, ignore_errors=True)
        backup_dir.mkdir(parents=True, exist_ok=True)
        files = [self._backup(path, backup_dir, index) for index, path in enumerate(paths)]
        entry = JournalEntry(
            proposal_id=proposal_id,
            kind=kind,
            phase=Phase.BACKED_UP,
            branch=branch,
            remote=remote,
            base_sha=base_sha,
            reset_to=base_sha,
            files=files,
            created_dirs=self._dirs_to_create(paths),
            host=socket.gethostname(),
            pid=os.getpid(),
            started_at=utcnow(),
        )
        _fsync_dir(backup_dir)
        self._write(entry)
        return entry

    def update(self, entry: JournalEntry, **changes: object) -> JournalEntry:
        """Rewrite the journal with ``changes`` (e.g. ``phase=Phase.COMMITTED``).

        Raises:
            JournalError: it cannot be written.
        """
        updated = entry.model_copy(update=changes)
        self._write(updated)
        return updated

    def clear(self, entry: JournalEntry | None = None) -> None:
        """Forget the transaction: remove the journal, then its backups."""
        self.path.unlink(missing_ok=True)
        _fsync_dir(self.dir)
        if entry is not None:
            shutil.rmtree(self.dir / "backups" / entry.proposal_id, ignore_errors=True)

    # --- restoring ---------------------------------------------------------------------------
    def restore_files(self, entry: JournalEntry) -> list[str]:
        """Put every journaled file back byte for byte; delete files the fix created.

        Returns:
            The relative paths restored or removed, in journal order.

        Raises:
            JournalError: a backup is missing or does not match its recorded digest.
        """
        backup_dir = self.dir / "backups" / entry.proposal_id
        for item in entry.files:
            target = self.repo_root / item.path
            if not item.existed:
                target.unlink(missing_ok=True)
                continue
            source = backup_dir / (item.backup or "")
            try:
                data = source.read_bytes()
            except OSError as error:
                raise JournalError(source, f"backup unreadable: {error}") from error
            if hashlib.sha256(data).hexdigest() != item.sha256:
                raise JournalError(source, "backup does not match its recorded digest")
            _atomic_write(target, data, item.mode)
        for directory in reversed(entry.created_dirs):
            try:
                (self.repo_root / directory).rmdir()
            except OSError:
                continue  # not empty (someone else's file) or already gone: leave it
        return [item.path for item in entry.files]

    # --- internals ---------------------------------------------------------------------------
    def _backup(self, path: Path, backup_dir: Path, index: int) -> FileBackup:
        relative = path.relative_to(self.repo_root).as_posix()
        if not path.exists():
            return FileBackup(path=relative, existed=False)
        data = path.read_bytes()
        name = str(index)
        _atomic_write(backup_dir / name, data, 0o600)
        return FileBackup(
            path=relative,
            existed=True,
            backup=name,
            mode=stat.S_IMODE(path.stat().st_mode),
            sha256=hashlib.sha256(data).hexdigest(),
        )

    def _dirs_to_create(self, paths: Sequence[Path]) -> list[str]:
        created: list[str] = []
        for path in paths:
            missing = []
            parent = path.parent
            while parent != self.repo_root and not parent.exists():
                missing.append(parent.relative_to(self.repo_root).as_posix())
                parent = parent.parent
            created.extend(d for d in reversed(missing) if d not in created)
        return created

    def _write(self, entry: JournalEntry) -> None:
        self._ensure_dir()
        try:
            _atomic_write(self.path, entry.model_dump_json(indent=1).encode(), 0o600)
        except OSError as error:
            raise JournalError(self.path, f"cannot write: {error}") from error

    def _ensure_dir(self) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise JournalError(self.dir, f"cannot create: {error}") from error


def _flock(fd: int, wait_seconds: float | None) -> bool:
    deadline = None if wait_seconds is None else time.monotonic() + wait_seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(_LOCK_POLL_SECONDS)


def _atomic_write(target: Path, data: bytes, mode: int | None) -> None:
    """Write ``data`` to ``target`` via a temp file in the same directory and a rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode if mode is not None else 0o644)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def atomic_write(target: Path, data: bytes, mode: int | None = None) -> None:
    """Replace ``target`` with ``data`` in one rename (a reader sees old or new, never half).

    Args:
        target: the file to write (parent directories are created).
        data: the new bytes.
        mode: permission bits; None keeps the current file's, or 0o644 for a new file.

    Raises:
        OSError: the file or its directory cannot be written (``target`` is unchanged).
    """
    if mode is None and target.exists():
        mode = stat.S_IMODE(target.stat().st_mode)
    _atomic_write(target, data, mode)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
