"""The edit locator on real files: loose paths and drifted old_text rewritten to the exact
lines, or refused with a sentence the LM's retry can act on; nothing outside the repository
is ever read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.edits import EditRejected, apply_to_text, check_edits
from core.policy import DEFAULT_POLICY
from core.proposals import Edit
from monitoring.diagnosis.locate import locate_edits, locate_lines, normalise_path

APP = """import json


def orders(body):
    user = STATS["users"][body["user_id"]]
    return {"ok": True, "user": user}


def report(spec):
    data = json.loads(spec)

    return data["rows"]
"""
GUARD = (
    'if body["user_id"] not in STATS["users"]:\n'
    '    raise KeyError("unknown user")\n'
    'user = STATS["users"][body["user_id"]]'
)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "service"
    (root / "shop").mkdir(parents=True)
    (root / "app.py").write_text(APP)
    (root / "shop" / "views.py").write_text("def view():\n    return 1\n")
    return root


def locate(repo: Path, path: str, old: str, new: str, files=("app.py",)) -> Edit:
    [edit] = locate_edits(
        repo,
        [Edit(path=path, old_text=old, new_text=new)],
        evidence_files=files,
        policy=DEFAULT_POLICY,
    )
    check_edits(repo, [edit])  # exact: occurs once in the file as it is
    return edit


def test_an_exact_edit_is_kept_as_written(repo):
    line = '    user = STATS["users"][body["user_id"]]'
    edit = locate(repo, "app.py", line, "    user = None")
    assert (edit.old_text, edit.new_text) == (line, "    user = None")


def test_changed_quotes_and_lost_indentation_are_located_and_new_text_reindented(repo):
    edit = locate(repo, "app.py", "user = STATS['users'][body['user_id']]", GUARD)

    assert edit.old_text == '    user = STATS["users"][body["user_id"]]'
    assert edit.new_text.splitlines() == [
        '    if body["user_id"] not in STATS["users"]:',
        '        raise KeyError("unknown user")',
        '    user = STATS["users"][body["user_id"]]',
    ]
    after = apply_to_text(APP, edit)
    compile(after, "app.py", "exec")


def test_new_text_already_indented_as_the_file_is_left_alone(repo):
    indented = "\n".join("    " + line for line in GUARD.splitlines())
    edit = locate(repo, "app.py", 'user = STATS["users"][body["user_id"]]', indented)
    assert edit.new_text == indented


def test_line_numbers_trailing_spaces_and_skipped_blank_lines_are_tolerated(repo):
    old = "10:     data = json.loads(spec)   \n12:     return data['rows']"
    new = "10:     data = json.loads(spec or '{}')\n11:\n12:     return data.get('rows', [])"
    edit = locate(repo, "app.py", old, new)
    assert edit.old_text == '    data = json.loads(spec)\n\n    return data["rows"]'
    assert edit.new_text == "    data = json.loads(spec or '{}')\n\n    return data.get('rows', [])"


@pytest.mark.parametrize(
    "written",
    ["app.py:5", "./app.py", "`app.py`", "app.py lines 4-6", "app.py:5:9", ".\\app.py"],
)
def test_loosely_written_paths_are_normalised(repo, written):
    line = '    user = STATS["users"][body["user_id"]]'
    assert locate(repo, written, line, "    user = None").path == "app.py"


def test_an_absolute_path_inside_the_repository_and_backslashes_are_normalised(repo):
    line = "    return 1"
    absolute = str(repo.resolve() / "shop" / "views.py")
    assert locate(repo, absolute, line, "    return 2", files=["shop/views.py"]).path == (
        "shop/views.py"
    )
    assert locate(repo, "shop\\views.py", line, "    return 2").path == "shop/views.py"


def test_a_missing_path_takes_the_one_file_the_evidence_names_and_no_guess_between_two(repo):
    line = '    user = STATS["users"][body["user_id"]]'
    assert locate(repo, "", line, "    user = None").path == "app.py"
    with pytest.raises(EditRejected, match=r"names no file; set path to one of: app\.py, shop"):
        locate(repo, "", line, "x", files=["app.py", "shop/views.py"])


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("../outside.py", "leaves the repository"),
        ("shop/../../outside.py", "leaves the repository"),
        ("/etc/passwd", "absolute paths are not allowed"),
        ("app.py\x00.txt", "control or invisible characters"),
        (".git/config", "protected path"),
    ],
)
def test_paths_outside_the_repository_are_refused_before_anything_is_read(repo, written, reason):
    (repo.parent / "outside.py").write_text('    user = STATS["users"][body["user_id"]]\n')
    with pytest.raises(EditRejected, match=reason):
        locate(repo, written, '    user = STATS["users"][body["user_id"]]', "    pwned()")


def test_a_symlink_leading_out_of_the_repository_is_refused(repo):
    secret = repo.parent / "secret.py"
    secret.write_text("TOKEN = 'x'\n")
    os.symlink(secret, repo / "link.py")
    with pytest.raises(EditRejected, match="leaves the repository"):
        locate(repo, "link.py", "TOKEN = 'x'", "TOKEN = 'y'")
    assert secret.read_text() == "TOKEN = 'x'\n"


def test_empty_old_text_is_refused_with_what_to_do_instead(repo):
    with pytest.raises(EditRejected, match="old_text is empty; copy the whole lines"):
        locate(repo, "app.py", "  \n", "import os\n")


def test_text_that_is_nowhere_or_in_two_places_is_refused(repo):
    with pytest.raises(EditRejected, match="does not occur in the file, even ignoring"):
        locate(repo, "app.py", "user = USERS[user_id]", "pass")
    twice = APP + "\n\ndef again(body):\n    user = STATS['users'][body['user_id']]\n"
    (repo / "app.py").write_text(twice)
    with pytest.raises(EditRejected, match="matches 2 places in the file"):
        locate(repo, "app.py", 'user = STATS["users"][body["user_id"]]  ', "pass")


def test_a_line_that_is_also_a_substring_elsewhere_grows_context_until_unique():
    text = "def a():\n    return x\n\n\ndef b():\n    if y:\n        return x\n"
    old, new = locate_lines(text, "    return x  ", "    return x + 1", path="m.py")
    assert text.count(old) == 1
    assert apply_to_text(text, Edit(path="m.py", old_text=old, new_text=new)) == (
        "def a():\n    return x + 1\n\n\ndef b():\n    if y:\n        return x\n"
    )


def test_crlf_files_are_matched_and_keep_their_line_endings():
    text = "def f():\r\n    return 'a'\r\n"
    old, new = locate_lines(text, 'return "a"', 'return "b"', path="m.py")
    after = apply_to_text(text, Edit(path="m.py", old_text=old, new_text=new))
    assert after == 'def f():\r\n    return "b"\r\n'


def test_oversized_and_escape_laden_paths_are_refused(repo):
    with pytest.raises(EditRejected, match="path too long"):
        locate(repo, "a" * 5000 + ".py", "x", "y")
    with pytest.raises(EditRejected, match="control or invisible"):
        locate(repo, "app\x1b[31m.py", "x", "y")


def test_normalise_path_leaves_refusal_to_the_core_checks(repo):
    assert normalise_path("/etc/passwd", repo_root=repo.resolve(), evidence_files=[]) == (
        "/etc/passwd"
    )


def test_blank_first_and_last_lines_of_a_triple_quoted_edit_are_not_added():
    text = "def parse(text):\n    return json.loads(text)\n"
    old, new = locate_lines(
        text,
        "\n        return json.loads(text)\n        ",
        "\n        try:\n            return json.loads(text)\n        except ValueError:\n"
        "            return None\n        ",
        path="worker/handlers.py",
    )
    assert old == "    return json.loads(text)"
    assert new == (
        "    try:\n        return json.loads(text)\n    except ValueError:\n        return None"
    )
