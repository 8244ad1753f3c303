"""Shared contracts: which traceback frame is the application's (fingerprints, titles, fixes).

A frame in site-/dist-packages or the standard library is a library frame; the innermost
frame that is not is where the application failed, and what every stage points at.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from core.models import Frame, FrameModel

AnyFrame = TypeVar("AnyFrame", Frame, FrameModel)

_LIBRARY_FILE = re.compile(
    r"site-packages|dist-packages|[/\\]lib[/\\]python\d[\d.]*[/\\]|[/\\]python\d*[/\\]lib[/\\]"
    r"|^<frozen |^<string>",
    re.I,
).search


def is_library_file(path: str) -> bool:
    """True for a frame file in site-/dist-packages, the standard library, ``<frozen ...>``
    or ``<string>`` (as printed in a traceback, any separators)."""
    return _LIBRARY_FILE(path) is not None


def app_frame(frames: Sequence[AnyFrame]) -> AnyFrame | None:
    """The innermost frame outside site-/dist-packages and the stdlib (else the innermost)."""
    for frame in reversed(frames):
        if not _LIBRARY_FILE(frame.file):
            return frame
    return frames[-1] if frames else None


def basename(path: str) -> str:
    """``/app/app.py`` -> ``app.py`` (POSIX or Windows separators)."""
    return path.replace("\\", "/").rsplit("/", 1)[-1]
