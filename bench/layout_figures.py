"""The layout's figures for this tree and, with --before, another git revision: the largest modules and
functions of pipeline/ and dagster_accidents/, and where their imports sit (project or library, at
the top of the file or inside a function; imports under TYPE_CHECKING are not counted).

    .venv/bin/python bench/layout_figures.py [--before 5083ca0]
"""

from __future__ import annotations

import argparse
import ast
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench.ab_startup import ROOT, export_revision

PACKAGES = ("pipeline", "dagster_accidents")


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    guards = [node for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)]
    return {id(inner) for guard in guards for inner in ast.walk(guard)}


def figures(root: Path) -> dict:
    modules, functions, imports = [], [], Counter()
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            text, name = path.read_text(), str(path.relative_to(root))
            tree = ast.parse(text)
            modules.append((len(text.splitlines()), name))
            in_functions, skipped = set(), _type_checking_nodes(tree)
            for node in ast.walk(tree):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions.append((node.end_lineno - node.lineno + 1, f"{name}:{node.name}"))
                    in_functions |= {id(inner) for inner in ast.walk(node)}
            for node in ast.walk(tree):
                if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in skipped:
                    target = (node.module or "") if isinstance(node, ast.ImportFrom) else node.names[0].name
                    project = getattr(node, "level", 0) > 0 or target.split(".")[0] in PACKAGES
                    where = "function" if id(node) in in_functions else "top"
                    imports[("project" if project else "library", where)] += 1
    return {"modules": sorted(modules, reverse=True), "functions": sorted(functions, reverse=True), "imports": imports}


def report(label: str, found: dict) -> None:
    imports = found["imports"]
    project = imports[("project", "top")] + imports[("project", "function")]
    print(f"{label}:")
    print("  largest modules: " + ", ".join(f"{name} {n}" for n, name in found["modules"][:3]))
    print("  largest functions: " + ", ".join(f"{name} {n}" for n, name in found["functions"][:3]))
    print(f"  project imports inside functions: {imports[('project', 'function')]} of {project} "
          f"({imports[('project', 'function')] / max(project, 1):.1%}); library imports inside functions: "
          f"{imports[('library', 'function')]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", help="git revision to report as well")
    args = parser.parse_args(argv)
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            report(f"before ({args.before})", figures(export_revision(args.before, Path(tmp))))
    report("this tree", figures(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
