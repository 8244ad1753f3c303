"""Fix evaluation: a case folder and its ``case.json``, read and checked.

A case is a folder::

    case.json         {"log": "service.log", "repo": "service",
                       "validate_command": "python -m pytest -q tests",
                       "requirements": "requirements.txt",
                       "incidents": [{"name", "key", "kind", "count", "code_fix", "oracle",
                                      "class" (optional, the failure class in words)}]}
    service.log       the log the service wrote under seeded traffic
    service/          the buggy service (its own tests pass on it)
    oracle/test_*.py  one pytest file per code incident: fails on the bug, passes once fixed

Paths in ``case.json`` are relative to the case folder. An incident's ``key`` is a string
found in its anomaly's template or exception type; ``kind`` is the anomaly kind expected;
``code_fix`` false means the right answer is no code change (``oracle`` may be null).

Errors::

    CaseError    a folder is not a case, or its case.json is invalid (the message says why)
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.models import AnomalyKind

CASE_FILE = "case.json"
#: The bundled cases: ``evals/`` at the top of the repository.
BUNDLED_CASES_DIR = Path(__file__).resolve().parents[2] / "evals"


class CaseError(Exception):
    """A folder that is not a valid case."""


class Incident(BaseModel):
    """One problem the case's log shows, and what the right answer is."""

    model_config = ConfigDict(populate_by_name=True)

    name: str = Field(min_length=1)
    key: str = Field(min_length=1)
    kind: AnomalyKind
    count: int = Field(ge=1)
    code_fix: bool
    oracle: str | None = None
    failure_class: str = Field("", alias="class")


class Case(BaseModel):
    """A case, with paths resolved against its folder."""

    name: str
    root: Path
    log: Path
    repo: Path
    validate_command: str | None = None
    requirements: Path | None = None
    incidents: list[Incident]

    def oracle_path(self, incident: Incident) -> Path | None:
        """The incident's oracle file, or None when it has none."""
        return self.root / incident.oracle if incident.oracle else None


class _CaseFile(BaseModel):
    log: str
    repo: str
    validate_command: str | None = None
    requirements: str | None = None
    incidents: list[Incident] = Field(min_length=1)


def load_case(folder: Path) -> Case:
    """Read ``folder/case.json``.

    Raises:
        CaseError: no case.json, invalid JSON or fields, a named file or folder missing,
            or two incidents with the same name.
    """
    path = folder / CASE_FILE
    try:
        raw = _CaseFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except OSError as error:
        raise CaseError(f"{folder}: cannot read {CASE_FILE}: {error.strerror}") from None
    except (json.JSONDecodeError, ValidationError) as error:
        raise CaseError(f"{path}: {_first_line(error)}") from None
    root = folder.resolve()
    case = Case(
        name=root.name,
        root=root,
        log=root / raw.log,
        repo=root / raw.repo,
        validate_command=raw.validate_command,
        requirements=root / raw.requirements if raw.requirements else None,
        incidents=raw.incidents,
    )
    _check_files(case, path)
    return case


def find_cases(paths: list[Path]) -> list[Case]:
    """The cases at ``paths``: each a case folder, or a folder of case folders (sorted).

    Raises:
        CaseError: a path is neither, or a case in it is invalid.
    """
    cases: list[Case] = []
    for path in paths:
        if (path / CASE_FILE).is_file():
            cases.append(load_case(path))
            continue
        children = (
            sorted(p for p in path.iterdir() if (p / CASE_FILE).is_file())
            if (path.is_dir())
            else []
        )
        if not children:
            raise CaseError(f"{path}: not a case folder (no {CASE_FILE}) nor a folder of cases")
        cases.extend(load_case(child) for child in children)
    return cases


def _check_files(case: Case, path: Path) -> None:
    names = [i.name for i in case.incidents]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CaseError(f"{path}: incident names repeat: {', '.join(duplicated)}")
    needed = [case.log, case.repo, *([case.requirements] if case.requirements else [])]
    needed += [p for i in case.incidents if (p := case.oracle_path(i))]
    for needed_path in needed:
        if not needed_path.exists():
            raise CaseError(f"{path}: {needed_path.relative_to(case.root)} does not exist")
    for incident in case.incidents:
        if incident.code_fix and not incident.oracle:
            raise CaseError(f"{path}: incident {incident.name} needs a fix but has no oracle")


def _first_line(error: Exception) -> str:
    if isinstance(error, ValidationError):
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"])
        return f"{where}: {problem['msg']}"
    return str(error).splitlines()[0]
