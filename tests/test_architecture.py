"""The package's shape: no import cycles, and the count-model path free of torch."""
import ast
from pathlib import Path

import lmcollapse

SRC = Path(lmcollapse.__file__).parent
DATA = Path(__file__).parent / "data"


# ---- no import cycles -------------------------------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """lmcollapse modules that path imports (anywhere in the file, lazy imports included; not the ones only
    under `if TYPE_CHECKING:`)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text())
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
               for child in node.body for n in ast.walk(child)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lmcollapse")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            if not base.startswith("lmcollapse"):
                continue
            for alias in node.names:  # `from .x import y` may import the submodule x.y
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return found - {name}


def test_no_module_imports_itself_through_others():
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    graph = {name: _imports(path, set(files)) & set(files) for name, path in files.items()}
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)
    assert "lmcollapse.models.ngram" in graph and graph["lmcollapse.config"] <= {"lmcollapse.errors"}


def test_the_count_model_path_never_imports_torch(tmp_path):
    import subprocess
    import sys

    code = ("import sys, lmcollapse; lmcollapse.run({'corpus': {'name': 'markov', 'vocab_size': 4, 'doc_length': 4, "
            "'n_train': 50, 'n_eval': 20}, 'generations': 2}, out_dir=sys.argv[1]); "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "r")], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


# ---- tests mirror the package -----------------------------------------------------------------------
# Test modules about no single source module: the package's shape, every kind's conformance suite, the
# documentation, the metric suite's stored reference values, and the benchmark scripts' dry paths.
CROSS_CUTTING = {"architecture", "conformance", "docs", "readme", "metrics_suite", "benchmarks"}


def test_every_test_module_is_named_after_a_source_module_a_package_or_a_story():
    sources = {p.stem for p in SRC.rglob("*.py") if p.stem != "__init__"} | {p.name for p in SRC.rglob("*") if p.is_dir()}
    tests = sorted(p.stem.removeprefix("test_") for p in Path(__file__).parent.glob("test_*.py"))
    stray = [t for t in tests if t not in sources and t not in CROSS_CUTTING and not t.startswith("story_")]
    assert not stray, (f"test modules named after no module or package: {stray}; name a test after what it tests "
                       f"(test_<module>.py), or test_story_<what>.py for a scenario across the CLI")
