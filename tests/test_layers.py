"""The layer rule of the README's "Code layout", enforced: every import in pipeline/ and
dagster_accidents/ (at the top of a file, inside a function or under TYPE_CHECKING alike, read with
`ast`) goes to the same layer or a lower one, and the modules of pipeline/ import each other without
circles. Imports sit at the top of their file, but for the heavy libraries and the lazy boundaries of
pipeline/core/heavy.py, and the CLI's argument parsing loads neither them nor the data stack. No module
is over 450 lines and no function over 80. Also:
every code path (`pipeline/...py`, `tests/...py`, ...) that README.md, BENCHMARKS.md and docs/ mention
exists."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

from pipeline.core.heavy import DATA_STACK, HEAVY_LIBRARIES, LAZY_BOUNDARIES

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "dagster_accidents")

# The README's layer table, lowest first. A module may import its own layer and the ones below it.
# sources/demo (the synthetic generator) counts with sources. cli and dagster_accidents are both
# on top, side by side: neither imports the other.
LAYERS = {
    "pipeline": 0,  # the package's own __init__
    "pipeline.core": 0,
    "pipeline.sources": 1,
    "pipeline.bronze": 2,
    "pipeline.silver": 3,
    "pipeline.gold": 4,
    "pipeline.evaluation": 5,
    "pipeline.serving": 6,
    "pipeline.usecases": 7,
    "pipeline.cli": 8,
    "dagster_accidents": 8,
}
SIDE_BY_SIDE = {("pipeline.cli", "dagster_accidents"), ("dagster_accidents", "pipeline.cli")}

# Circles that other work removes; any other circle makes the test fail, and so does a listed one
# once it is gone (delete its line then).
KNOWN_CIRCLES = {
}


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(p, root): p for package in PACKAGES for p in sorted((root / package).rglob("*.py"))}


def imports_of(path: Path, modules: dict[str, Path], root: Path = ROOT) -> list[tuple[str, int]]:
    """(imported project module, line) for every import statement of the file, wherever it sits.
    `from package import name` counts as an import of the submodule when `name` is one."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in modules:  # `import a.b.c` of a name inside a module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.append((target, node.lineno))
    return found


def layer_of(module: str) -> str:
    return max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    modules = project_modules(root)
    return {name: {target for target, _ in imports_of(path, modules, root)} for name, path in modules.items()}


def layer_violations(root: Path = ROOT) -> list[str]:
    """`file:line: ...` for every import of a module of a higher layer (or of a side-by-side one)."""
    modules = project_modules(root)
    wrong = []
    for name, path in modules.items():
        mine = layer_of(name)
        for target, line in imports_of(path, modules, root):
            theirs = layer_of(target)
            if LAYERS[theirs] > LAYERS[mine] or (mine, theirs) in SIDE_BY_SIDE:
                wrong.append(f"{path.relative_to(root)}:{line}: {mine} imports {target} ({theirs} is not below it)")
    return wrong


def circles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(root: str) -> None:
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for name in sorted(graph):
        if name not in index:
            visit(name)
    return found


def test_every_import_respects_the_layer_table():
    wrong = layer_violations()
    assert not wrong, "imports against the layer table of README.md's Code layout:\n" + "\n".join(wrong)


def test_pipeline_has_no_import_circles_but_the_known_ones():
    graph = {name: {t for t in targets if t.startswith("pipeline")}
             for name, targets in import_graph().items() if name.startswith("pipeline")}
    found = [frozenset(c) for c in circles(graph)]
    new = [sorted(c) for c in found if c not in KNOWN_CIRCLES]
    assert not new, f"import circles between modules of pipeline/: {new}"
    gone = [sorted(c) for c in KNOWN_CIRCLES if c not in found]
    assert not gone, f"known circles no longer there, remove them from KNOWN_CIRCLES: {gone}"


def test_the_checks_see_what_they_check(tmp_path):
    """On a small tree: imports inside functions, under TYPE_CHECKING, relative ones and `from package
    import module` are all seen, named by file and line; the circle search finds a circle."""
    files = {
        "pipeline/__init__.py": "",
        "pipeline/core/__init__.py": "",
        "pipeline/core/base.py": "from pipeline.core import other\n",
        "pipeline/core/other.py": "",
        "pipeline/gold/__init__.py": "",
        "pipeline/gold/stage.py": ("from typing import TYPE_CHECKING\nfrom . import helper\n"
                                   "if TYPE_CHECKING:\n    from pipeline.serving.app import App\n"
                                   "def run():\n    import pipeline.evaluation.metrics\n"),
        "pipeline/gold/helper.py": "from pipeline.core.base import x\n",
        "pipeline/evaluation/__init__.py": "",
        "pipeline/evaluation/metrics.py": "from pipeline.gold import stage\n",
        "pipeline/serving/__init__.py": "",
        "pipeline/serving/app.py": "",
        "pipeline/cli/__init__.py": "import dagster_accidents\n",
        "dagster_accidents/__init__.py": "",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert layer_violations(tmp_path) == [
        "pipeline/cli/__init__.py:1: pipeline.cli imports dagster_accidents (dagster_accidents is not below it)",
        "pipeline/gold/stage.py:4: pipeline.gold imports pipeline.serving.app (pipeline.serving is not below it)",
        "pipeline/gold/stage.py:6: pipeline.gold imports pipeline.evaluation.metrics "
        "(pipeline.evaluation is not below it)",
    ]
    graph = import_graph(tmp_path)
    assert graph["pipeline.core.base"] == {"pipeline.core.other"}
    assert graph["pipeline.gold.stage"] == {"pipeline.gold.helper", "pipeline.serving.app",
                                            "pipeline.evaluation.metrics"}
    assert [sorted(c) for c in circles(graph)] == [["pipeline.evaluation.metrics", "pipeline.gold.stage"]]
    assert {frozenset({"a", "b"})} == {frozenset(c) for c in circles({"a": {"b"}, "b": {"c", "a"}, "c": set()})}
    assert circles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert layer_of("pipeline.sources.demo.model") == "pipeline.sources"
    assert layer_of("pipeline.core.lake") == "pipeline.core"


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")


def _is_dynamic_import(node: ast.AST) -> bool:
    """importlib.import_module(...), import_module(...) or __import__(...)."""
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "import_module") or \
        (isinstance(func, ast.Name) and func.id in ("import_module", "__import__"))


def placed_imports(path: Path) -> list[tuple[ast.AST, bool, bool]]:
    """(import statement or dynamic import call, inside a function?, under a module-level
    `if TYPE_CHECKING:`?) for every import of the file."""
    found = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)) or _is_dynamic_import(child):
                found.append((child, in_function, type_checking))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)),
                  type_checking or (not in_function and _is_type_checking(child)))

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), False, False)
    return found


def _top_packages(node: ast.Import | ast.ImportFrom) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name.split(".")[0] for alias in node.names}
    return {PACKAGES[0]} if node.level else {(node.module or "").split(".")[0]}


def import_placement_violations(root: Path = ROOT, heavy=HEAVY_LIBRARIES, boundaries=LAZY_BOUNDARIES) -> list[str]:
    """`file:line: ...` for an import inside a function that is neither a heavy library nor project code
    in a lazy boundary, a dynamic import outside the boundaries, and a heavy library imported at the top
    of a module (outside `if TYPE_CHECKING:`)."""
    wrong = []
    for name, path in project_modules(root).items():
        where = path.relative_to(root)
        for node, in_function, type_checking in placed_imports(path):
            if _is_dynamic_import(node):
                if name not in boundaries:
                    wrong.append(f"{where}:{node.lineno}: {ast.unparse(node.func)}() outside the lazy boundaries "
                                 "of pipeline/core/heavy.py")
                continue
            for top in sorted(_top_packages(node)):
                if in_function and top not in heavy and not (top in PACKAGES and name in boundaries):
                    wrong.append(f"{where}:{node.lineno}: `{ast.unparse(node)}` inside a function: only the heavy "
                                 "libraries of pipeline/core/heavy.py are imported there")
                elif not in_function and not type_checking and top in heavy:
                    wrong.append(f"{where}:{node.lineno}: `{ast.unparse(node)}` at the top of the module: {top} "
                                 "is heavy (pipeline/core/heavy.py), import it where it is used")
    return wrong


def test_imports_sit_at_the_top_but_the_heavy_libraries():
    wrong = import_placement_violations()
    assert not wrong, "imports against pipeline/core/heavy.py:\n" + "\n".join(wrong)


def test_the_import_placement_check_sees_what_it_checks(tmp_path):
    files = {
        "pipeline/__init__.py": "",
        "pipeline/core/__init__.py": "",
        "pipeline/core/fine.py": ("from typing import TYPE_CHECKING\nimport json\nfrom . import other\n"
                                  "if TYPE_CHECKING:\n    import mlflow\n"
                                  "def fit():\n    import mlflow\n    from sklearn.neighbors import BallTree\n"),
        "pipeline/core/other.py": "",
        "pipeline/core/wrong.py": ("import mlflow.pyfunc\ntry:\n    import sklearn\nexcept ImportError:\n    pass\n"
                                   "import importlib\n"
                                   "def load():\n    import json\n    from pipeline.core import other\n"
                                   "    from . import fine\n    return importlib.import_module('x')\n"
                                   "class Model:\n    def fit(self):\n        def inner():\n            import numpy\n"),
        "pipeline/cli/__init__.py": "import importlib\ndef main():\n    from pipeline.core import other\n"
                                    "    importlib.import_module('pipeline.core.fine')\n    import json\n",
        "dagster_accidents/__init__.py": "def run():\n    import dagster_k8s\n    from pipeline.core import other\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    heavy = {"mlflow": "", "sklearn": "", "dagster_k8s": ""}
    found = sorted(import_placement_violations(tmp_path, heavy, {"pipeline.cli": ""}),
                   key=lambda line: (line.split(":")[0], int(line.split(":")[1])))
    assert [line.split(": ", 1)[0] for line in found] == [
        "dagster_accidents/__init__.py:3",
        "pipeline/cli/__init__.py:5",
        "pipeline/core/wrong.py:1", "pipeline/core/wrong.py:3", "pipeline/core/wrong.py:8",
        "pipeline/core/wrong.py:9", "pipeline/core/wrong.py:10", "pipeline/core/wrong.py:11",
        "pipeline/core/wrong.py:15",
    ], found
    assert "`import mlflow.pyfunc` at the top of the module: mlflow is heavy" in found[2]
    assert "`from pipeline.core import other` inside a function" in found[0]
    assert "importlib.import_module() outside the lazy boundaries" in found[7]


def test_the_cli_parser_loads_no_heavy_library_no_data_stack_and_no_stage_code():
    """What `accidents --help` and `accidents predict --help` import: the parser and the parameter
    dataclasses (bench: cli_help)."""
    code = ("import json, sys\nimport pipeline.cli as cli\nparser = cli.build_parser()\nparser.format_help()\n"
            "parser.parse_args(['predict', '--date', '2025-06-15'])\nprint(json.dumps(sorted(sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout)
    libraries = {name.split(".")[0] for name in loaded}
    assert not libraries & (set(HEAVY_LIBRARIES) | set(DATA_STACK))
    # an allow-list: the standard library and the project only (setuptools' .pth hook loads
    # _distutils_hack at interpreter start, before any of our code)
    assert libraries - set(sys.stdlib_module_names) <= {"__main__", "_distutils_hack", *PACKAGES}
    light = ("pipeline.cli.parser", "pipeline.cli.common", "pipeline.core.errors", "pipeline.core.params",
             "pipeline.core.settings", "pipeline.core.departments", "pipeline.gold.algorithms")
    project = [name for name in loaded if name.split(".")[0] in PACKAGES]
    stage_code = [name for name in project if name.count(".") > 1 and not name.endswith(".params")
                  and name not in light] + [name for name in project if name.startswith("dagster_accidents")]
    assert not stage_code, f"the CLI's parser imports stage code: {stage_code}"


DOC_PATH = re.compile(r"\b(?:pipeline|dagster_accidents|bench|tests)/[\w/.-]*\.py\b")
DOC_MODULE = re.compile(r"\b(?:pipeline|dagster_accidents)(?:\.[A-Za-z_]\w*)+")
DOCS = ("README.md", "BENCHMARKS.md", "docs/*.md")


def top_level_names(path: Path) -> set[str]:
    """Names a module defines or imports at its top level (what `module.name` can refer to)."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    return names


def missing_code_references(root: Path = ROOT) -> list[str]:
    """`doc:line: reference` for every file path or dotted module (or module.name) that does not exist."""
    modules = project_modules(root)
    missing = []
    for doc in sorted({p for pattern in DOCS for p in root.glob(pattern)}):
        for number, line in enumerate(doc.read_text(encoding="utf-8").splitlines(), start=1):
            for path in DOC_PATH.findall(line):
                if not (root / path).exists():
                    missing.append(f"{doc.relative_to(root)}:{number}: {path}")
            for dotted in DOC_MODULE.findall(line):
                module = max((m for m in modules if dotted == m or dotted.startswith(m + ".")), key=len)
                rest = dotted.removeprefix(module).lstrip(".")
                if rest and rest.split(".")[0] not in top_level_names(modules[module]):
                    missing.append(f"{doc.relative_to(root)}:{number}: {dotted}")
    return missing


def test_every_code_path_named_in_the_readme_and_docs_exists():
    missing = missing_code_references()
    assert not missing, "code the docs name that does not exist:\n" + "\n".join(missing)


def test_the_docs_check_finds_a_moved_module(tmp_path):
    (tmp_path / "pipeline" / "gold").mkdir(parents=True)
    (tmp_path / "pipeline" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "gold" / "__init__.py").write_text("")
    (tmp_path / "pipeline" / "gold" / "scoring.py").write_text("def score():\n    pass\n")
    (tmp_path / "README.md").write_text(
        "See `pipeline/gold/scoring.py` and pipeline.gold.scoring.score.\n"
        "Moved: pipeline/gold/metrics.py, pipeline.gold.metrics, pipeline.gold.scoring.gone.\n")
    assert missing_code_references(tmp_path) == [
        "README.md:2: pipeline/gold/metrics.py", "README.md:2: pipeline.gold.metrics",
        "README.md:2: pipeline.gold.scoring.gone"]


# Issue 20's size targets: a module or function past them is split before it lands.
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 450, 80


def oversized(root: Path = ROOT) -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            text = path.read_text()
            name = path.relative_to(root)
            if (lines := len(text.splitlines())) > MAX_MODULE_LINES:
                found.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES})")
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    if (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                        found.append(f"{name}:{node.lineno} {node.name}: {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def test_no_module_or_function_is_past_the_size_targets():
    assert not oversized(), "\n".join(oversized())


def test_the_size_check_sees_what_it_checks(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "pipeline").mkdir()
    (tmp_path / "pipeline" / "long.py").write_text(f"def long():\n{body}\n" + "\n" * MAX_MODULE_LINES)
    assert [line.split(":")[0] for line in oversized(tmp_path)] == ["pipeline/long.py", "pipeline/long.py"]
