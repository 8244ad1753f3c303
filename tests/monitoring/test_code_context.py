"""Code context: traceback frames and log messages lead to the right lines of the repository."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.models import FrameModel
from monitoring.diagnosis.context import (
    MAX_CONTEXT_CHARS,
    MAX_FRAMES,
    WINDOW_LINES_AFTER,
    WINDOW_LINES_BEFORE,
    build_context,
)
from monitoring.diagnosis.emitters import (
    find_definitions,
    find_emitters,
    search_phrases,
    template_keys,
)
from monitoring.diagnosis.repo import RepoIndex, is_library_path
from tests.conftest import ROOT
from tests.fakes import anomalies as A
from tests.fakes.git import make_repo

SERVICE = ROOT / "examples" / "service"


@pytest.fixture
def service(tmp_path: Path) -> RepoIndex:
    return RepoIndex(root=make_repo(tmp_path, copy_from=SERVICE).work)


def write(root: Path, files: dict[str, str]) -> RepoIndex:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return RepoIndex(root=root)


# --- frames -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("/app/app.py", "app.py"),
        ("/srv/deploy/releases/42/app.py", "app.py"),
        ("C:\\build\\svc\\app.py", "app.py"),
        ("/app/src/pkg/handlers.py", "src/pkg/handlers.py"),
        ("/app/.venv/lib/python3.11/site-packages/starlette/routing.py", None),
        ("/usr/local/lib/python3.11/json/__init__.py", None),
        ("<frozen runpy>", None),
        ("/app/.env", None),
        ("/app/missing.py", None),
    ],
)
def test_traceback_paths_map_to_repository_files(tmp_path, printed, expected):
    index = write(
        tmp_path,
        {
            "app.py": "x = 1\n",
            "src/pkg/handlers.py": "y = 2\n",
            "json/__init__.py": "z = 3\n",
            ".env": "A=1\n",
        },
    )
    assert index.map_frame_file(printed) == expected


def test_library_paths_are_recognised():
    assert is_library_path("/app/.venv/lib/python3.11/site-packages/x.py")
    assert is_library_path("/usr/lib/python3/dist-packages/x.py")
    assert not is_library_path("/app/lib/python_helpers.py")


def test_git_listing_respects_gitignore_and_a_plain_walk_skips_virtualenvs(tmp_path):
    (tmp_path / "g").mkdir()
    pair = make_repo(tmp_path / "g", {"app.py": "x = 1\n", ".gitignore": "secret_dump.txt\n"})
    (pair.work / "secret_dump.txt").write_text("nope")
    (pair.work / "new_module.py").write_text("y = 2\n")  # untracked, not ignored
    assert set(RepoIndex(root=pair.work).files) == {"app.py", ".gitignore", "new_module.py"}

    plain = write(
        tmp_path / "p",
        {
            "app.py": "x\n",
            ".venv/lib/x.py": "x\n",
            "node_modules/m/index.js": "x\n",
            "pkg/mod.py": "x\n",
        },
    )
    assert set(plain.files) == {"app.py", "pkg/mod.py"}


def test_a_keyerror_shows_the_whole_handler_and_names_only_app_py(service):
    context = build_context(A.keyerror(), service)

    assert [f.path for f in context.frames] == ["app.py"]
    assert context.evidence_files == {"app.py"}
    [snippet] = context.snippets
    assert (snippet.start_line, snippet.end_line) == (27, 32)  # decorator to last line
    rendered = context.render()
    assert rendered.startswith("### app.py lines 27-32 (traceback frame: orders(), line 31")
    assert 'user = STATS["users"][body["user_id"]]' in rendered


def test_long_functions_get_a_window_and_frames_are_capped(tmp_path):
    body = "\n".join(f"    v{n} = {n}" for n in range(80))
    index = write(tmp_path, {"big.py": f"def big():\n{body}\n    return v1\n"})
    frames = [FrameModel(file="/app/big.py", line=50, function="big")] * (MAX_FRAMES + 3)
    context = build_context(A.keyerror(frames=frames), index)
    first = context.snippets[0]
    assert (first.start_line, first.end_line) == (50 - WINDOW_LINES_BEFORE, 50 + WINDOW_LINES_AFTER)
    assert len(context.frames) == MAX_FRAMES


def test_only_library_frames_give_no_code_and_no_evidence(service):
    lib_only = [FrameModel(file=A.LIB + "starlette/routing.py", line=289, function="handle")]
    context = build_context(A.keyerror(frames=lib_only), service)
    assert context.empty and context.evidence_files == frozenset()


def test_rendering_is_bounded(tmp_path):
    files = {f"m{n}.py": "def f():\n" + "    x = 'y' * 100\n" * 30 for n in range(4)}
    index = write(tmp_path, files)
    frames = [FrameModel(file=f"/app/m{n}.py", line=10, function="f") for n in range(4)]
    context = build_context(A.keyerror(frames=frames), index)
    assert len(context.render(max_chars=2_500)) <= 2_500
    assert len(context.render()) <= MAX_CONTEXT_CHARS


def test_the_digest_follows_the_evidence_files_contents(service):
    before = build_context(A.keyerror(), service).digest
    (service.root / "app.py").write_text((service.root / "app.py").read_text() + "# edit\n")
    assert build_context(A.keyerror(), RepoIndex(root=service.root)).digest != before
    (service.root / "unrelated.py").write_text("x = 1\n")
    reread = RepoIndex(root=service.root)
    assert build_context(A.keyerror(), reread).digest == build_context(A.keyerror(), reread).digest


# --- messages -----------------------------------------------------------------------------


def test_template_keys_and_phrases():
    template = "LM response truncated (max_tokens=<NUM>, needed=<NUM>)"
    assert template_keys(template) == ["max_tokens", "needed"]
    assert search_phrases(template)[0] == "LM response truncated (max_tokens="
    phrases = search_phrases("MCP Tool failed: ConnectError (All connection)")
    assert "MCP Tool failed:" in phrases and "Tool failed:" not in phrases  # no middles


def test_the_truncation_message_leads_to_max_tokens_definition(service):
    context = build_context(A.truncation(), service)

    [emitter] = context.emitters
    assert (emitter.path, emitter.line) == ("app.py", 56)
    assert emitter.bindings == {"max_tokens": "MAX_TOKENS", "needed": "wanted"}
    names = {d.name: (d.line, d.text.strip()) for d in context.definitions}
    assert names["MAX_TOKENS"] == (13, 'MAX_TOKENS = int(os.environ.get("MAX_TOKENS", "3000"))')
    assert names["wanted"][0] == 54
    assert context.evidence_files == {"app.py"}
    assert "defines MAX_TOKENS" in context.render()


def test_a_message_without_placeholders_is_found_by_its_prefix(service):
    [emitter] = build_context(A.mcp_error(), service).emitters
    assert (emitter.path, emitter.line, emitter.phrase) == ("app.py", 47, "MCP Tool failed:")


MESSAGE = "LM response truncated (max_tokens"


@pytest.mark.parametrize(
    "call",
    [
        f'log.warning(f"{MESSAGE}={{settings.max_tokens}}, needed={{n}})")',
        f'log.warning("{MESSAGE}={{}}, needed={{}})".format(settings.max_tokens, n))',
        f'log.warning("{MESSAGE}=%d, needed=%d)" % (settings.max_tokens, n))',
    ],
)
def test_other_names_and_formats_lead_to_the_limit_in_another_file(tmp_path, call):
    index = write(
        tmp_path,
        {
            "config.py": """
            from pydantic_settings import BaseSettings

            class Settings(BaseSettings):
                max_tokens: int = 3000
        """,
            "llm.py": f"""
            import logging
            from config import Settings
            log = logging.getLogger("svc.llm")
            settings = Settings()

            def complete(n):
                {call}
        """,
        },
    )
    emitters = find_emitters(index, "LM response truncated (max_tokens=<NUM>, needed=<NUM>)")
    assert emitters[0].path == "llm.py"
    assert emitters[0].bindings["max_tokens"] == "settings.max_tokens"
    definitions = find_definitions(index, emitters)
    limit = next(d for d in definitions if d.name == "max_tokens")
    assert (limit.path, limit.text.strip()) == ("config.py", "max_tokens: int = 3000")


def test_the_file_that_names_the_logger_ranks_first(tmp_path):
    index = write(
        tmp_path,
        {
            "a_other.py": 'import logging\nlog = logging.getLogger("x")\n'
            'log.info("Cache warmed up in %s")\n',
            "b_web.py": 'import logging\nlog = logging.getLogger("app.web")\n'
            'log.info("Cache warmed up in %s")\n',
        },
    )
    emitters = find_emitters(index, "Cache warmed up in <NUM>", logger="app.web")
    assert [e.path for e in emitters] == ["b_web.py", "a_other.py"]


def test_comments_do_not_count_as_emitters(tmp_path):
    index = write(tmp_path, {"app.py": f"# {MESSAGE}= is logged elsewhere\nx = 1\n"})
    assert find_emitters(index, "LM response truncated (max_tokens=<NUM>)") == []
