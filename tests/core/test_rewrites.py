"""No rewrites: an edit set is refused by the share of the original it removes.

Attempts of several sizes against a real checkout, each through the whole review
(:func:`core.review.review_change`) with genuine evidence for the file, so only the
rewrite rule (or the changed-lines cap) stands between them and a proposal; and the
realistic fixes that must still pass, measured the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.edits import EditRejected
from core.evidence import locate
from core.policy import DEFAULT_POLICY
from core.proposals import Edit, Evidence
from core.review import review_change
from core.rewrites import check_rewrite, removal
from tests.fakes.git import RepoPair, make_repo
from tests.fakes.proposals import APP, make_proposal

#: A 40-line request handler (``def`` line, 38 statements, ``return``), lines 4-43.
HANDLER = ["def handle(request):"]
HANDLER += [f'    v{i} = request.get("k{i}") or {i}' for i in range(38)]
HANDLER += ["    return [" + ", ".join(f"v{i}" for i in range(38)) + "]"]
SMALL = ["def small(x):", "    a = x + 1", "    b = a * 2", "    c = b - 3", "    return c"]
TWO = ["def two(x):", "    return x"]
OTHER = ["def other(y):"] + [f"    y = y + {i}" for i in range(9)] + ["    return y"]
BIG = (
    "\n".join(
        [
            '"""A module with a big handler."""',
            "import json",
            "",
            *HANDLER,
            "",
            "",
            *SMALL,
            "",
            "",
            *TWO,
            "",
            "",
            *OTHER,
        ]
    )
    + "\n"
)


def _lines(first: int, last: int) -> str:
    """Lines ``first``..``last`` (1-based, inclusive) of BIG, with their line ends."""
    return "".join(BIG.splitlines(keepends=True)[first - 1 : last])


def _line(fragment: str) -> int:
    return next(n for n, text in enumerate(BIG.splitlines(), 1) if fragment in text)


H0 = _line("def handle")
S0, T0, O0 = _line("def small"), _line("def two"), _line("def other")


@pytest.fixture
def repo(tmp_path: Path) -> RepoPair:
    return make_repo(tmp_path, {"big.py": BIG, "app.py": APP})


def _evidence() -> list[Evidence]:
    items = [
        locate(
            BIG, path="big.py", line=H0 + 5, kind="frame", detail="/app/big.py", function="handle"
        ),
        locate(
            BIG, path="big.py", line=S0 + 1, kind="frame", detail="/app/big.py", function="small"
        ),
    ]
    return [item for item in items if item is not None]


def _review(repo: RepoPair, edits: list[Edit]):
    proposal = make_proposal(edits, evidence=_evidence())
    return review_change(
        repo.work, edits, proposal.evidence, anomaly=proposal.anomaly, policy=DEFAULT_POLICY
    )


def _replace(first: int, last: int, new: str) -> Edit:
    return Edit(path="big.py", old_text=_lines(first, last), new_text=new)


def _handler_lines_replaced(count: int) -> Edit:
    """The handler's first ``count`` statements replaced by different ones."""
    new = "".join(f'    w{i} = request.post("k{i}")\n' for i in range(count))
    return _replace(H0 + 1, H0 + count, new)


REWRITES = [
    ("the file replaced by one line", [Edit(path="big.py", old_text=BIG, new_text="x = 1\n")]),
    ("the handler's body replaced", [_replace(H0 + 1, H0 + 39, "    return None\n")]),
    ("60% of the handler", [_handler_lines_replaced(24)]),
    ("51% of the handler", [_handler_lines_replaced(21)]),
    ("a whole function deleted", [_replace(O0, O0 + 10, "")]),
    ("3 of a 5-line function", [_replace(S0 + 1, S0 + 3, "    c = x\n")]),
    (
        "the handler in many small edits",
        [_replace(H0 + i, H0 + i + 1, f"    w{i} = 0\n    x{i} = 1\n") for i in range(1, 23, 2)],
    ),
    (
        "lines commented out",
        [_replace(H0 + 1, H0 + 22, "".join("    # " + t.strip() + "\n" for t in HANDLER[1:23]))],
    ),
    (
        "a third of the file across functions",
        [
            _handler_lines_replaced(19),
            _replace(O0 + 1, O0 + 5, "    y = 0\n"),
            _replace(S0 + 1, S0 + 2, "    b = 0\n"),
        ],
    ),
    ("61 changed lines", [_replace(H0 + 1, H0 + 1, "    pass\n" * 60)]),
]


def test_rewrite_attempts_are_refused(repo: RepoPair, capsys) -> None:
    failures = []
    for name, edits in REWRITES:
        try:
            _review(repo, edits)
            failures.append(name)
        except EditRejected as refused:
            if "rewrites" not in refused.reason and "limit 60" not in refused.reason:
                failures.append(f"{name}: refused for another reason: {refused.reason}")
    with capsys.disabled():
        print(f"\n[rewrites] tried {len(REWRITES)}, refused {len(REWRITES) - len(failures)}")
    assert failures == []
    assert (repo.work / "big.py").read_text() == BIG


GUARD = "".join(
    f'    if request.get("k{i}") is None:\n        raise ValueError("k{i} missing")\n'
    for i in range(5)
)
WRAPPED = "    try:\n" + "".join("    " + line + "\n" for line in HANDLER[1:6])
WRAPPED += '    except KeyError:\n        raise ValueError("bad request")\n'

REALISTIC = [
    (
        "a 10-line guard added to the 40-line handler",
        [_replace(H0 + 5, H0 + 5, GUARD + _lines(H0 + 5, H0 + 5))],
    ),
    (
        "one line replaced by three",
        [
            _replace(
                H0 + 3, H0 + 3, '    v2 = request.get("k2")\n    if v2 is None:\n        v2 = 2\n'
            )
        ],
    ),
    ("five statements wrapped in try/except", [_replace(H0 + 1, H0 + 5, WRAPPED)]),
    ("a constant changed", [_replace(H0 + 7, H0 + 7, '    v6 = request.get("k6") or 60\n')]),
    (
        "the body of a two-line function",
        [Edit(path="big.py", old_text="    return x\n", new_text="    return x or 0\n")],
    ),
    ("12 of the handler's 40 lines (30%)", [_handler_lines_replaced(12)]),
    ("2 of a 5-line function", [_replace(S0 + 1, S0 + 2, "    a = x + 2\n    b = a * 3\n")]),
]


def test_realistic_fixes_pass(repo: RepoPair, capsys) -> None:
    failures = []
    for name, edits in REALISTIC:
        try:
            _review(repo, edits)
        except EditRejected as refused:
            failures.append(f"{name}: {refused}")
    with capsys.disabled():
        print(
            f"\n[realistic fixes] tried {len(REALISTIC)}, passed {len(REALISTIC) - len(failures)}"
        )
    assert failures == []


def test_the_refusal_gives_the_share_and_the_limit() -> None:
    with pytest.raises(EditRejected) as refused:
        check_rewrite("big.py", BIG, "x = 1\n", DEFAULT_POLICY)
    code_lines = sum(1 for line in BIG.splitlines() if line.strip())
    assert refused.value.reason.startswith(
        f"rewrites 100% of the file ({code_lines} of {code_lines} code lines; limit 30%)"
    )
    after = BIG.replace(_lines(S0 + 1, S0 + 3), "    c = x\n")
    with pytest.raises(
        EditRejected, match=r"rewrites 60% of small\(\) \(3 of 5 code lines; limit 50%"
    ):
        check_rewrite("big.py", BIG, after, DEFAULT_POLICY)


def test_reindented_and_inserted_lines_are_not_removals() -> None:
    after = BIG.replace(_lines(H0 + 1, H0 + 5), WRAPPED)
    assert removal(BIG, after).removed == ()
    assert removal("a\n\nb\n", "a\nnew\n\n\nb\n").removed == ()
    assert removal("a\nb\nc\n", "a\nc\n").removed == (2,)
