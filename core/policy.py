"""Shared contracts: the edit policy: which paths no edit may touch, and how large a change may be.

One :class:`EditPolicy` is built from the settings by the composition root and handed to
the diagnoser and to the implementor, so that a proposal is judged by the same rules when
it is built and again right before it is written.

Protected paths come in two tiers, both in ``.gitignore`` syntax (`pathspec`_):

- :data:`ALWAYS_PROTECTED`: git's own files (``.git*``), environment files, CI, keys and
  secrets, installed packages. No setting lifts these.
- :data:`DEFAULT_PROTECTED_PATHS`: tests and test configuration, packaging and dependency
  files, deployment files, CI and hooks, ``.env*``, vendored code. ``MENDBOT_PROTECTED_PATHS``
  replaces this tier (an empty value leaves only the first).

A pattern with no ``/`` but at its end matches a file or folder of that name anywhere
(``conftest.py``, ``test_*.py``, ``tests/``), one with a ``/`` before its end matches from
the repository root (``deploy/k8s/``); a protected folder protects everything under it.
Paths and patterns are compared *folded* (Unicode NFKC, then case-folded), so ``Tests/``,
``DOCKERFILE`` or ``tests/`` in full-width letters are protected like ``tests/``, as on a
case-insensitive file system.

.. _pathspec: https://pypi.org/project/pathspec/
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import pathspec

#: Never editable, whatever ``MENDBOT_PROTECTED_PATHS`` says (``.gitignore`` syntax).
ALWAYS_PROTECTED: tuple[str, ...] = (
    # git: the repository, hooks, .github/, .gitlab-ci.yml, .gitmodules, .gitattributes
    ".git*",
    # environment and secrets
    ".env",
    ".env.*",
    "*.env",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.keystore",
    "id_rsa*",
    "id_ed25519*",
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
    ".ssh/",
    ".aws/",
    ".docker/",
    # CI
    ".ci/",
    ".circleci/",
    ".buildkite/",
    "Jenkinsfile",
    "azure-pipelines.yml",
    ".travis.yml",
    "bitbucket-pipelines.yml",
    # installed packages that happen to sit inside the checkout
    "site-packages/",
    "dist-packages/",
    "node_modules/",
    ".venv/",
    "__pycache__/",
)

#: Protected unless ``MENDBOT_PROTECTED_PATHS`` says otherwise (``.gitignore`` syntax).
DEFAULT_PROTECTED_PATHS: tuple[str, ...] = (
    # tests and test configuration
    "tests/",
    "test/",
    "test_*.py",
    "*_test.py",
    "conftest.py",
    "pytest.ini",
    "tox.ini",
    "noxfile.py",
    ".coveragerc",
    # packaging and dependencies
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "MANIFEST.in",
    "requirements*.txt",
    "constraints*.txt",
    "Pipfile",
    "Pipfile.lock",
    "poetry.lock",
    "uv.lock",
    # deployment
    "Dockerfile",
    "Dockerfile.*",
    "*.dockerfile",
    ".dockerignore",
    "docker-compose*.yml",
    "docker-compose*.yaml",
    "compose.yml",
    "compose.yaml",
    "Procfile",
    "railway.json",
    "railway.toml",
    "nixpacks.toml",
    # CI and hooks
    ".github/",
    ".gitlab-ci.yml",
    ".ci/",
    ".pre-commit-config.yaml",
    ".githooks/",
    ".husky/",
    # environment
    ".env*",
    # vendored copies of libraries
    "vendor/",
    "_vendor/",
    "vendored/",
    "third_party/",
)


def fold(path: str) -> str:
    """``path`` as a case-insensitive, Unicode-normalising file system would see it
    (NFKC, then case-folded): ``Tests/Conftest.PY`` -> ``tests/conftest.py``, and
    full-width letters become ASCII ones."""
    return unicodedata.normalize("NFKC", path).casefold()


def _spec(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(fold(p) for p in patterns)


@dataclass(frozen=True)
class EditPolicy:
    """The rules an edit set is held to (see :mod:`core.review` for where each applies).

    Args:
        protected: the configurable tier of protected paths (``MENDBOT_PROTECTED_PATHS``),
            ``.gitignore`` patterns; :data:`ALWAYS_PROTECTED` applies in any case.
        max_changed_lines: lines removed plus lines added, all edits together (a unified
            diff's ``-`` and ``+`` lines), so that a person can read the whole change.
        max_files: distinct files one proposal may touch.
        max_edits: edits one proposal may hold.
        max_edit_chars: total characters of the old and new text of all edits.
        max_file_removed_share: largest share (0..1) of a file's non-blank lines an edit
            set may delete or replace.
        max_function_removed_share: the same for each function (``def`` to its last line).
        small_removal_lines: removing at most this many non-blank lines of a file or a
            function is never a rewrite, whatever the share (a two-line function may lose
            its one body line to a fix).
    """

    protected: tuple[str, ...] = DEFAULT_PROTECTED_PATHS
    max_changed_lines: int = 60
    max_files: int = 5
    max_edits: int = 20
    max_edit_chars: int = 40_000
    max_file_removed_share: float = 0.30
    max_function_removed_share: float = 0.50
    small_removal_lines: int = 2
    _always: pathspec.GitIgnoreSpec = field(init=False, repr=False, compare=False)
    _configured: pathspec.GitIgnoreSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_always", _spec(ALWAYS_PROTECTED))
        object.__setattr__(self, "_configured", _spec(self.protected))

    def protected_by(self, relative_path: str) -> str | None:
        """The pattern that protects a repository-relative POSIX path, or None.

        The path's :func:`fold` is checked against both tiers (patterns are folded too).

        Returns:
            The matching pattern as configured (e.g. ``tests/``), or None when the path is
            not protected.
        """
        folded = fold(relative_path)
        for spec, patterns in (
            (self._always, ALWAYS_PROTECTED),
            (self._configured, self.protected),
        ):
            result = spec.check_file(folded)
            if result.include and result.index is not None:
                return patterns[result.index]
        return None

    def is_protected(self, relative_path: str) -> bool:
        """True when no edit may touch this repository-relative POSIX path."""
        return self.protected_by(relative_path) is not None


#: The policy when none is configured: every default above.
DEFAULT_POLICY = EditPolicy()
