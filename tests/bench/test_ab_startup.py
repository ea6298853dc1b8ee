"""bench/ab_startup.py: the start-up A/B of another revision against this tree runs and reports both."""

from __future__ import annotations

import shutil

import pytest

from bench import ab_startup


@pytest.mark.skipif(shutil.which("git") is None or not (ab_startup.ROOT / ".git").exists(), reason="not a git checkout")
def test_the_ab_compares_every_command_of_both_trees(capsys):
    assert ab_startup.main(["--before", "HEAD", "--runs", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("1 runs each")
    assert [line.split(":")[0] for line in lines[1:]] == list(ab_startup.COMMANDS)
    assert all("before " in line and ", after " in line for line in lines[1:])
