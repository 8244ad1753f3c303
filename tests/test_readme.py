"""The README's commands are the ones CI and newcomers run."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def _bash_blocks(text: str) -> list[str]:
    return [block.strip() for block in re.findall(r"```bash\n(.*?)```", text, re.S)]


def test_ci_runs_the_readme_test_command() -> None:
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    test_commands = [b for b in blocks if "pytest" in b and "\n" not in b]
    assert test_commands, "README has no one-line test command"
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test_commands[0] in ci_lines


def test_readme_main_command_scans_the_bundled_log() -> None:
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    scan = [b for b in blocks if "mendbot scan" in b and "\n" not in b]
    assert scan, "README has no one-line scan command"
    words = scan[0].split("mendbot scan", 1)[1].split()
    assert (ROOT / words[0]).is_file()
    assert "--repo" in words, "the first command must show a diff without any setup"
    assert (ROOT / words[words.index("--repo") + 1]).is_dir()
