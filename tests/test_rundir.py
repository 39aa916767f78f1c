"""The run directory has one owner: running/rundir.py names every file in it, and no other module spells a name."""
import ast
import json
from pathlib import Path

import lmcollapse
from lmcollapse.running.rundir import RunDir, run_dir_name

SRC = Path(lmcollapse.__file__).parent
# Names of files and folders inside a run directory (docs/run-directory.md, the layout block).
LAYOUT_NAMES = ("config.yaml", "run.json", "metrics.jsonl", "metrics.json", "manifest.json", "tokenizer.json",
                "probe-baseline.json", "real-train.parquet", "real-heldout.parquet", "reservoir.parquet",
                "probe-train.parquet", "probe-test.parquet", "probe-classes.json", "train_ids.npy", "pool_ids.npy",
                "samples.parquet", "fresh.parquet", "DONE", ".partial", "gen-", "theory-compare.png")
# (module, literal) pairs that name a file of another kind of folder, not of a run directory.
NOT_A_RUN_DIRECTORY = {("tokenizers/pretrained.py", "tokenizer.json")}  # a Hugging Face checkpoint's tokenizer


def _string_literals(tree: ast.AST):
    """Every string constant of a module but its docstrings (prose), with f-strings' literal parts."""
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def test_no_module_but_rundir_names_a_file_inside_a_run_directory():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        module = path.relative_to(SRC).as_posix()
        if module == "running/rundir.py":
            continue
        for line, text in _string_literals(ast.parse(path.read_text())):
            for name in LAYOUT_NAMES:
                # a literal that is the name, or a path or glob holding it ("gen-*/DONE", "docs/real-train.parquet")
                if (text == name or f"/{name}" in text or text.startswith(name)) and \
                        (module, name) not in NOT_A_RUN_DIRECTORY and not (name in ("DONE",) and " " in text):
                    found.append(f"{module}:{line}: {text!r}")
    assert not found, "run-directory names outside running/rundir.py:\n" + "\n".join(found)


def test_the_check_above_finds_a_name_where_one_is_spelled():
    tree = ast.parse('"""docs mention metrics.jsonl"""\nx = "gen-0001/samples.parquet"\ny = f"gen-{t:04d}"\n')
    literals = [text for _, text in _string_literals(tree)]
    assert "gen-0001/samples.parquet" in literals and "gen-" in literals
    assert not any("metrics.jsonl" in text for text in literals)  # the docstring is prose


def test_every_file_a_run_writes_is_one_rundir_names(tmp_path):
    """A text-corpus run with the reservoir, fresh real data and saved models: every file and folder in the
    directory is reached through a RunDir accessor (the layout in its docstring is the whole layout)."""
    config = {"corpus": {"name": "kjv", "n_train": 60, "n_eval": 20, "n_reservoir": 20}, "generations": 2,
              "paradigm": {"name": "fresh", "fresh_fraction": 0.1, "rate": 0.5}, "ci_rounds": 0}
    run = lmcollapse.run(config, out_dir=tmp_path / "r")
    rd = RunDir(run.path)
    named = {rd.config_file, rd.identity_file, rd.metrics_file, rd.tokenizer_file, rd.docs, rd.real_train_file,
             rd.held_out_file, rd.reservoir_file, rd.path / ".lock"}
    for t in range(2):
        g = rd.generation(t)
        named |= {g.path, g.train_ids, g.pool_ids, g.samples, g.fresh, g.model, g.metrics, g.manifest, g.done}
    present = {p for p in rd.path.rglob("*") if not any(parent.name == "model" for parent in p.parents)}
    assert present - named == set()
    assert {rd.reservoir_file, rd.generation(0).fresh, rd.generation(1).pool_ids} <= present


def test_a_run_directory_is_named_by_its_config():
    a = lmcollapse.load_config({"model": {"order": 3}})
    b = lmcollapse.load_config({"model": {"order": 3}, "generations": 40})  # generations extend a run
    c = lmcollapse.load_config({"model": {"order": 2}})
    assert run_dir_name(a) == run_dir_name(b) != run_dir_name(c)
    assert run_dir_name(a).startswith("kjv-replace-") and RunDir.for_config(a, "x").path.parent == Path("x")


def test_gated_runs_keep_the_names_0_3_gave_them_and_each_gate_its_own():
    """The names below were printed by lmcollapse 0.3.0 (api.default_out_dir) for the same configs, written
    with the key's old name `filters`: a gated run started by 0.3 resumes under 0.4."""
    markov = {"name": "markov", "vocab_size": 3, "doc_length": 3}
    assert run_dir_name(lmcollapse.load_config({"gates": ["dedup"]})) == "kjv-replace-2da2ebaa"
    assert run_dir_name(lmcollapse.load_config({"filters": ["perplexity"]})) == "kjv-replace-06b15b38"
    assert run_dir_name(lmcollapse.load_config({"gates": [{"name": "verifier", "error_rate": 0.2}],
                                                "corpus": markov})) == "markov-replace-9f3c392e"
    names = {run_dir_name(lmcollapse.load_config({"gates": [g]})) for g in ("dedup", "perplexity", "nonempty")}
    assert len(names) == 3


def test_every_shipped_config_study_point_and_component_keeps_the_run_directory_name_0_4_0_gave_it():
    """tests/data/run_dir_names.json was printed by tests/run_dir_names.py under lmcollapse 0.4.0, before the
    config sections moved beside their components: a run started then resumes in the same directory now."""
    from run_dir_names import DROPPED_BY_VERSION_2, names

    recorded = json.loads((Path(__file__).parent / "data" / "run_dir_names.json").read_text())
    assert len(recorded) > 200 and recorded["lmcollapse run (the built-in default)"] == "kjv-replace-44136fa3"
    now = names(as_of_0_4=True)  # the presets P19 retuned, at their 0.4.0 values (run_dir_names.py)
    assert {k: v for k, v in now.items() if recorded.get(k) != v} == {}
    # the only runs no longer planned are rows of the mitigation benchmark, whose version 2 (P21) dropped some
    # rows and cut the GPT's differently; the count models run every row, so theirs are only the dropped ones
    gone = set(recorded) - set(now)
    assert gone and all(k.startswith("mitigations") for k in gone), sorted(gone)[:5]
    assert all(any(k.endswith(f" {label}") for label in DROPPED_BY_VERSION_2) for k in gone if " ngram" in k)
    # and the retuned presets are other experiments: new directories, never a 0.4.0 run resumed under them
    retuned = {k for k, v in names().items() if k in recorded and recorded[k] != v}
    assert {k.split()[0] for k in retuned} == {"configs/cpu-gpt.yaml", "paper", "mitigations"}
    assert all(" gpt " in k for k in retuned if not k.startswith("configs/"))
