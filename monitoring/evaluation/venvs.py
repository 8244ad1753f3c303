"""Fix evaluation: one virtualenv per distinct requirements file, cached between runs.

A case's ``validate_command`` and oracles run with its virtualenv's ``bin`` first on
``PATH``. Virtualenvs live in ``<cache>/<sha256 of the requirements text and the Python
version, 16 hex>``; one is built once (``python -m venv`` then ``pip install -r``) and
reused by every case and run with the same requirements. A ``.complete`` marker is written
last, so a build that was killed is redone; a lock file keeps two evaluations from
building the same one at once.

Errors::

    VenvError    the virtualenv could not be built (pip's output tail in the message)
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

#: Default cache of evaluation virtualenvs.
DEFAULT_VENV_CACHE = Path.home() / ".cache" / "mendbot" / "eval-venvs"
#: Seconds a virtualenv build (venv + pip install) may take.
BUILD_TIMEOUT_SECONDS = 600.0
_MARKER = ".complete"


class VenvError(Exception):
    """A case's virtualenv could not be built."""


def venv_key(requirements: str) -> str:
    """The cache key of a requirements text (and this Python's version)."""
    basis = f"{sys.version_info[:2]}\n{requirements.strip()}"
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


def ensure_venv(requirements: Path | None, *, cache_dir: Path) -> Path:
    """The virtualenv for ``requirements`` (built now if the cache lacks it).

    Args:
        requirements: a pip requirements file, or None for a bare virtualenv.
        cache_dir: where virtualenvs are kept.

    Returns:
        The virtualenv's root (its ``bin/python`` runs the case's code).

    Raises:
        VenvError: ``python -m venv`` or ``pip install`` failed or timed out.
    """
    text = requirements.read_text(encoding="utf-8") if requirements else ""
    root = cache_dir / venv_key(text)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / f"{root.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (root / _MARKER).is_file():
            _build(root, requirements)
    return root


def bin_dir(venv: Path) -> Path:
    """The virtualenv's ``bin`` folder."""
    return venv / "bin"


def _build(root: Path, requirements: Path | None) -> None:
    shutil.rmtree(root, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(root)], "python -m venv")
    if requirements is not None:
        pip = [str(bin_dir(root) / "python"), "-m", "pip", "install", "-q"]
        _run([*pip, "--disable-pip-version-check", "-r", str(requirements)], "pip install")
    (root / _MARKER).write_text(requirements.read_text(encoding="utf-8") if requirements else "")


def _run(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        raise VenvError(f"{what} timed out after {BUILD_TIMEOUT_SECONDS:g} s") from None
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-1500:]
        raise VenvError(f"{what} exited {result.returncode}:\n{tail}")
