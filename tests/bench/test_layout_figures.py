"""bench/layout_figures.py: sizes and import placement counted as the layout issue reports them."""

from __future__ import annotations

from bench.layout_figures import figures, main


def test_figures_count_sizes_and_where_imports_sit(tmp_path):
    package = tmp_path / "pipeline"
    package.mkdir()
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\nimport json\nfrom pipeline import b\n"
        "if TYPE_CHECKING:\n    from pipeline import c\n\n"
        "def f():\n    import numpy\n    from . import d\n    return 1\n")
    found = figures(tmp_path)
    assert found["modules"] == [(10, "pipeline/a.py")] and found["functions"] == [(4, "pipeline/a.py:f")]
    assert dict(found["imports"]) == {("library", "top"): 2, ("project", "top"): 1,
                                      ("library", "function"): 1, ("project", "function"): 1}


def test_the_report_runs_on_this_tree(capsys):
    assert main([]) == 0
    assert "project imports inside functions" in capsys.readouterr().out
