"""Protected by default: the files an edit must not touch, however the path is spelled.

Every target is tried as an LM would propose it, through the whole review on a real
checkout, with genuine evidence for ``app.py`` in hand: the refusal has to come from the
path itself. Then the configuration: ``MENDBOT_PROTECTED_PATHS`` replaces the default list
but never lifts what is always protected, and the composition root hands the same policy
to the diagnoser and to the implementor.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.edits import EditRejected
from core.policy import ALWAYS_PROTECTED, DEFAULT_POLICY, EditPolicy
from core.proposals import Edit, ProposalStatus
from core.review import review_change
from monitoring.runtime import build_diagnoser, build_runtime, edit_policy
from tests.fakes import anomalies as A
from tests.fakes.git import RepoPair, git, make_repo
from tests.fakes.proposals import SERVICE, UTIL, frame_evidence, make_proposal, tree_hashes

FILES = {
    **SERVICE,
    "tests/test_app.py": "def test_x():\n    assert True\n",
    "test_smoke.py": "def test_y():\n    assert True\n",
    "pkg/conftest.py": "X = 1\n",
    "pkg/orders_test.py": "X = 1\n",
    "pyproject.toml": "[project]\nname = 'x'\n",
    "setup.py": "X = 1\n",
    "setup.cfg": "[metadata]\nname = x\n",
    "requirements-dev.txt": "pytest\n",
    "Pipfile.lock": "{}\n",
    "Dockerfile": "FROM python:3.11\n",
    "docker-compose.prod.yml": "services: {}\n",
    "Procfile": "web: python app.py\n",
    "railway.json": "{}\n",
    ".github/workflows/ci.yml": "on: push\n",
    ".gitlab-ci.yml": "x: 1\n",
    ".gitmodules": "[submodule]\n",
    ".pre-commit-config.yaml": "repos: []\n",
    ".githooks/pre-commit": "exit 0\n",
    ".env.production": "A=1\n",
    "config/prod.env": "A=1\n",
    "vendor/requests/api.py": "X = 1\n",
    "third_party/lib.py": "X = 1\n",
    "deploy/id_rsa": "key\n",
}

PROTECTED_TARGETS = [
    "tests/test_app.py",
    "test_smoke.py",
    "pkg/conftest.py",
    "pkg/orders_test.py",
    "pyproject.toml",
    "setup.py",
    "setup.cfg",
    "requirements-dev.txt",
    "Pipfile.lock",
    "Dockerfile",
    "docker-compose.prod.yml",
    "Procfile",
    "railway.json",
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    ".gitmodules",
    ".pre-commit-config.yaml",
    ".githooks/pre-commit",
    ".env.production",
    "config/prod.env",
    "vendor/requests/api.py",
    "third_party/lib.py",
    "deploy/id_rsa",
    ".git/config",
    ".git/hooks/pre-commit.sample",
    # spellings of the same files
    "TESTS/test_app.py",
    "Tests/Test_App.py",
    "DOCKERFILE",
    "./tests/test_app.py",
    "tests//test_app.py",
    "\uff54\uff45\uff53\uff54\uff53/test_app.py",  # full-width "tests"
    "link_to_tests.py",  # a symlink to tests/test_app.py
    "tests\\test_app.py",
]

BAD_SPELLINGS = [
    ("../outside.py", "leaves the repository"),
    ("/etc/passwd", "absolute"),
    ("C:app.py", "absolute"),
    (" app.py", "padded"),
    ("app.py\u200b", "invisible"),
    ("app\u202e.py", "invisible"),
    ("app\u00a0.py", "invisible"),
    ("app\x00.py", "invisible"),
    ("\u0430pp.py", "look-alike"),  # Cyrillic a
    ("lib/" + "x" * 300 + ".py", "too long"),
    ("a/" * 600 + "app.py", "too long"),
    ("escape/outside.py", "leaves the repository"),  # a symlink out
    ("lib/../tests/test_app.py", "leaves the repository"),  # any ".." is refused
]
NEW_FILES = ["lib/new_module.py", "tests/mendbot/test_fix_20261121_023300.py", "sitecustomize.py"]


@pytest.fixture
def repo(tmp_path: Path) -> RepoPair:
    (tmp_path / "service").mkdir()
    pair = make_repo(tmp_path / "service", FILES)
    (tmp_path / "outside.py").write_text("X = 1\n")
    os.symlink("tests/test_app.py", pair.work / "link_to_tests.py")
    os.symlink(tmp_path, pair.work / "escape", target_is_directory=True)
    return pair


def _review(repo: RepoPair, edit: Edit, policy: EditPolicy = DEFAULT_POLICY):
    """The review with the genuine KeyError frame in hand, and the edit after a good one."""
    guard = Edit(path="app.py", old_text="import json\n", new_text="import json  # ok\n")
    proposal = make_proposal([guard, edit])
    return review_change(
        repo.work, proposal.edits, proposal.evidence, anomaly=proposal.anomaly, policy=policy
    )


def _first_line(path: Path) -> str:
    return path.read_text().splitlines()[0] if path.is_file() else "x"


def test_protected_targets_are_refused(repo: RepoPair, capsys) -> None:
    before = tree_hashes(repo.work)
    failures = []
    for target in PROTECTED_TARGETS:
        old = _first_line(repo.work / target.replace("\\", "/"))
        try:
            _review(repo, Edit(path=target, old_text=old, new_text="pwned = True"))
            failures.append(f"{target}: accepted")
        except EditRejected as refused:
            if "protected" not in refused.reason:
                failures.append(f"{target}: {refused.reason}")
    attempts = len(PROTECTED_TARGETS) + len(BAD_SPELLINGS) + len(NEW_FILES)
    edits = [(Edit(path=t, old_text="X = 1", new_text="X = 2"), why) for t, why in BAD_SPELLINGS]
    edits += [(Edit(path=t, old_text="", new_text="X = 1\n"), "new file") for t in NEW_FILES]
    for edit, reason in edits:
        try:
            _review(repo, edit)
            failures.append(f"{edit.path!r}: accepted")
        except EditRejected as refused:
            if reason not in refused.reason:
                failures.append(f"{edit.path!r}: {refused.reason}")
    with capsys.disabled():
        print(
            f"\n[protected targets and spellings] tried {attempts}, "
            f"refused {attempts - len(failures)}"
        )
    assert failures == []
    assert tree_hashes(repo.work) == before


def test_the_configured_list_replaces_the_defaults_but_not_the_floor(repo: RepoPair) -> None:
    open_tests = EditPolicy(protected=())
    test_edit = Edit(path="tests/test_app.py", old_text="assert True", new_text="pass")
    with pytest.raises(EditRejected, match="not a file the evidence points at"):
        _review(repo, test_edit, open_tests)  # no longer protected: evidence decides now
    for target in (".env.production", ".github/workflows/ci.yml", ".git/config", "deploy/id_rsa"):
        with pytest.raises(EditRejected, match="protected path"):
            _review(repo, Edit(path=target, old_text="x", new_text="y"), open_tests)
    legacy = EditPolicy(protected=("lib/",))
    with pytest.raises(EditRejected, match=r"protected path \(matches lib/\)"):
        _review(repo, Edit(path="lib/util.py", old_text="def parse", new_text="def p"), legacy)
    assert legacy.protected_by("tests/test_app.py") is None
    assert set(ALWAYS_PROTECTED) <= set(ALWAYS_PROTECTED + legacy.protected)


def test_the_setting_reaches_the_diagnoser_and_the_implementor(
    make_settings, database_url, tmp_path
) -> None:
    (tmp_path / "svc").mkdir()
    pair = make_repo(tmp_path / "svc", SERVICE)
    settings = make_settings(
        database_url=database_url, target_repo_path=pair.work, protected_paths="lib/, web.py"
    )
    assert edit_policy(settings).protected == ("lib/", "web.py")
    assert build_diagnoser(settings).policy == edit_policy(settings)
    runtime = build_runtime(settings)
    try:
        assert runtime.implementor is not None
        assert runtime.implementor.policy == edit_policy(settings)
        util_fix = Edit(path="lib/util.py", old_text='split(",")', new_text='split(";")')
        evidence = [frame_evidence(UTIL, "lib/util.py", 5, "parse")]
        proposal = runtime.store.add(make_proposal([util_fix], evidence=evidence))
        base = pair.remote_head()

        final = runtime.decisions.implement(proposal.id, actor="cli:ops")

        assert final.status is ProposalStatus.FAILED
        assert "protected path (matches lib/)" in (final.error or "")
        assert pair.remote_head() == base and git(pair.work, "status", "--porcelain") == ""
    finally:
        runtime.close()


def test_by_default_the_diagnoser_never_offers_a_protected_file_as_code(make_settings, repo):
    frames = [A.keyerror().frames[-1]]
    anomaly = A.keyerror(frames=[frames[0].model_copy(update={"file": "/app/tests/test_app.py"})])
    [proposal] = build_diagnoser(make_settings(target_repo_path=repo.work)).propose([anomaly])
    assert proposal.edits == [] and proposal.evidence == []
