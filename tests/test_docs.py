"""The documentation stays short where it should and names only files that exist: the README is at most 300
lines, and every repository path that README.md, CONTRIBUTING.md, CHANGELOG.md or docs/*.md names (a path
under src/, tests/, benchmarks/, configs/, docs/ or .ci/, or a link to a local file) is there."""
import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
README_MAX_LINES = 300
PREFIXES = ("src", "tests", "benchmarks", "configs", "docs", ".ci")

# A repository path: one of the prefixes at the start of a word (not inside RUN/docs/..., runs/..., a URL).
REPO_PATH = re.compile(r"(?<![\w./<>~-])((?:%s)/[^\s`'\")\]>,;:|]*)" % "|".join(re.escape(p) for p in PREFIXES))
LINK = re.compile(r"\]\(([^)\s]+)\)")
PLACEHOLDER = re.compile(r"[*?<>{}$]|\.\.\.|NAME|KIND|PATH")


def doc_files() -> list[Path]:
    return [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *sorted((ROOT / "docs").glob("*.md"))]


def named_paths(text: str, doc_dir: Path) -> list[tuple[str, Path]]:
    """(as written, where it must be) for every repository path and local link in text. Paths with a
    prefix are relative to the repository root; a link is relative to the document that holds it."""
    found = []
    for match in REPO_PATH.finditer(text):
        path = match.group(1).rstrip(".")
        if not PLACEHOLDER.search(path):
            found.append((path, ROOT / path))
    for match in LINK.finditer(text):
        target = match.group(1).split("#")[0]
        if not target or "://" in target or target.startswith("mailto:") or PLACEHOLDER.search(target):
            continue
        found.append((target, doc_dir / target))
    return found


def missing_in(text: str, doc_dir: Path) -> list[str]:
    """The paths text names (as written) that are not in the repository."""
    missing = []
    for written, path in dict.fromkeys(named_paths(text, doc_dir)):
        if not path.resolve().is_relative_to(ROOT.resolve()):
            missing.append(f"{written} (outside the repository)")
        elif not path.exists():
            missing.append(written)
    return missing


def test_the_readme_is_at_most_300_lines():
    lines = (ROOT / "README.md").read_text().count("\n")  # as `wc -l` counts
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; move detail to docs/ (at most {README_MAX_LINES})"


def test_the_documents_checked_exist():
    for doc in doc_files():
        assert doc.is_file(), doc
    assert len(doc_files()) > 3


def test_every_path_the_docs_name_exists():
    missing = [f"{doc.relative_to(ROOT)}: {path}" for doc in doc_files() for path in missing_in(doc.read_text(), doc.parent)]
    assert not missing, "the docs name files that do not exist:\n" + "\n".join(missing)


def test_the_check_finds_what_is_missing_and_skips_what_is_not_a_repository_path(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("See `tests/test_no_such_file.py`, benchmarks/no_such_script.py, [a](no-such.md) and\n"
                   "[b](docs/img/no-such.png); not `RUN/docs/real-train.parquet`, runs/x/gen-0007/DONE,\n"
                   "`configs/<name>.yaml`, tests/test_*.py, https://example.org/docs/x.md or [c](https://x.org/a.md).\n"
                   "Present: `src/lmcollapse/running/rundir.py`, tests/test_docs.py, `.ci/run`, configs/demo.yaml.\n")
    text = doc.read_text()
    written = {w for w, _ in named_paths(text, ROOT)}
    assert written == {"tests/test_no_such_file.py", "benchmarks/no_such_script.py", "no-such.md", "docs/img/no-such.png",
                       "src/lmcollapse/running/rundir.py", "tests/test_docs.py", ".ci/run", "configs/demo.yaml"}
    assert sorted(missing_in(text, ROOT)) == ["benchmarks/no_such_script.py", "docs/img/no-such.png", "no-such.md",
                                              "tests/test_no_such_file.py"]


def test_the_configuration_reference_is_what_the_code_renders():
    """docs/configuration.md lists every key of every section and every metric; it is written by
    lmcollapse.reference, so a key added, renamed or re-described without rerunning the script fails here."""
    from lmcollapse import reference

    written = (ROOT / reference.DOCUMENT).read_text(encoding="utf-8")
    assert written == reference.render(), "docs/configuration.md is stale: run `python -m lmcollapse.reference`"
    for key in ("`model.order`", "`paradigm.real_fraction`", "`tokenizer.vocab_size`", "`gates[i].threshold`",
                "`sampler.top_p`", "`heldout_ppl`"):
        assert key in written



def test_a_plugin_loaded_in_the_same_process_leaves_the_reference_as_it_is():
    from lmcollapse import reference
    from lmcollapse.metrics import METRICS
    from lmcollapse.metrics.base import metric

    metric("plugin_metric", "a user's metric", True)(lambda view: 0.0)
    try:
        assert not METRICS.shipped("plugin_metric") and METRICS.shipped("heldout_ppl")
        assert "plugin_metric" not in reference.render()
    finally:
        METRICS.forget("plugin_metric")
