"""The architecture's promises: written contracts that registries enforce, configs that refuse keys of
another component, no import cycles, and run directories of earlier versions that resume unchanged."""
import ast
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from pydantic import BaseModel

import lmcollapse
from lmcollapse.config import NGramConfig, NonemptyGateConfig, section_classes
from lmcollapse.errors import LmcollapseError
from lmcollapse.experiment import load_config
from lmcollapse.gates import GATES, Filter, Producer
from lmcollapse.metrics import METRICS
from lmcollapse.metrics.base import metric
from lmcollapse.models import MODELS, LanguageModel
from lmcollapse.paradigms import PARADIGMS, Paradigm
from lmcollapse.registry import ContractError
from lmcollapse.sources import SOURCES, Source
from lmcollapse.sweep.executors import EXECUTORS, Executor
from lmcollapse.tokenizers import TOKENIZERS, Tokenizer

SRC = Path(lmcollapse.__file__).parent
DATA = Path(__file__).parent / "data"


# ---- registries enforce their contracts ----------------------------------------------------------------
@pytest.mark.parametrize("registry, contract", [(MODELS, LanguageModel), (TOKENIZERS, Tokenizer),
                                                (SOURCES, Source), (PARADIGMS, Paradigm), (GATES, Filter),
                                                (EXECUTORS, Executor)])
def test_a_class_outside_the_contract_is_refused(registry, contract):
    class Stranger:
        pass

    with pytest.raises(ContractError, match="is not a subclass of"):
        registry.register("stranger", "not a component")(Stranger)

    class HalfDone(contract):  # subclasses the contract but implements none of its abstract methods
        pass

    with pytest.raises(ContractError, match="does not implement") as err:
        registry.register("half-done", "misses methods")(HalfDone)
    assert sorted(contract.__abstractmethods__)[0] in str(err.value)  # the message names what is missing
    assert "stranger" not in registry and "half-done" not in registry


def test_a_gate_must_be_exactly_one_kind_and_a_metric_a_function_of_one_view():
    class Section(BaseModel):
        threshold: float = 0.5

    class Both(Filter, Producer):
        name = "both"
        config_class = Section

        def keep(self, corpus, ctx, rng):
            return np.ones(len(corpus), bool), None

        def generate(self, n, ctx, *, seed, generation, first_id, producer):
            raise NotImplementedError

    with pytest.raises(ContractError, match="exactly one of Filter, Producer, PoolWeighting"):
        GATES.register("both", "filters and produces")(Both)
    with pytest.raises(ContractError, match="exactly one required argument"):
        metric("two-args", "not a metric", None)(lambda view, other: 0.0)
    with pytest.raises(ContractError, match="registered twice"):
        metric("heldout_nll", "again", None)(lambda view: 0.0)
    with pytest.raises(ContractError, match="needs 'gpu', which is none of"):
        metric("needy", "needs what nobody has", None, needs=("gpu",))(lambda view: 0.0)
    with pytest.raises(ContractError, match="register metrics with the @metric decorator"):
        METRICS.register("bare", "a bare function")(lambda view: 0.0)


def test_a_component_built_from_a_section_must_name_its_own():
    class Quiet(Filter):
        name = "quiet"

        def keep(self, corpus, ctx, rng):
            return np.ones(len(corpus), bool), None

    with pytest.raises(ContractError, match="config_class must name the config section"):
        GATES.register("quiet", "no section")(Quiet)
    Quiet.config_class = NonemptyGateConfig
    with pytest.raises(ContractError, match="is the section of 'nonempty', not of 'quiet'"):
        GATES.register("quiet", "another gate's section")(Quiet)
    assert "quiet" not in GATES


def test_every_config_section_has_a_registered_component_and_back():
    for section, registry in (("model", MODELS), ("corpus", SOURCES), ("gates", GATES)):
        assert set(section_classes(section)) == set(registry.names()), section
        for name, cls in section_classes(section).items():
            assert registry.get(name).config_class is cls  # built from its own section (Registry.build)
    assert {EXECUTORS.get(n).config_class.model_fields["name"].default for n in EXECUTORS.names()} == {"local", "ray"}


# ---- keys that do not apply are refused -------------------------------------------------------------------
@pytest.mark.parametrize("overrides, expected", [
    (["model.name=gpt", "model.order=3"], "model.order: does not apply to model 'gpt' (only to ngram)"),
    (["model.n_layer=4"], "model.n_layer: does not apply to model 'ngram' (only to gpt)"),
    (["model.name=hf", "model.n_head=4"], "model.n_head: does not apply to model 'hf' (only to gpt)"),
    (["model.block_size=64"], "model.block_size: does not apply to model 'ngram' (only to gpt, hf)"),
    (["corpus.name=markov", "corpus.unit=paragraph"], "corpus.unit: does not apply to corpus 'markov' (only to files)"),
    (["corpus.probs=[0.5,0.5]"], "corpus.probs: does not apply to corpus 'kjv' (only to categorical)"),
    (["corpus.name=bible"], "corpus.name: unknown corpus 'bible'; choose one of: categorical, files, kjv, markov"),
])
def test_a_key_of_another_component_is_a_one_line_error(overrides, expected):
    with pytest.raises(LmcollapseError) as err:
        load_config(None, overrides)
    assert str(err.value).startswith(expected) and "\n" not in str(err.value), str(err.value)


def test_each_default_is_written_once():
    from lmcollapse.models.hf import HFModel
    from lmcollapse.models.neural import GPTModel
    from lmcollapse.models.ngram import NGramModel
    from lmcollapse.sampling import Sampler

    config = load_config(None)
    assert NGramModel().smoothing == config.model.smoothing and NGramModel().order == config.model.order
    assert Sampler().max_tokens == config.sampler.max_tokens
    gpt = load_config(None, ["model.name=gpt"]).model
    assert GPTModel().block_size == gpt.block_size and GPTModel().lr == gpt.lr
    assert HFModel().config.hf_config == load_config(None, ["model.name=hf"]).model.hf_config


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


# ---- neural models on known-truth corpora ----------------------------------------------------------
TINY_NEURAL = {"gpt": {"name": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16, "epochs": 2,
                       "lr": 0.01},
               "hf": {"name": "hf", "block_size": 16, "epochs": 2, "lr": 0.01}}
TRUTHS = {"markov": {"name": "markov", "vocab_size": 5, "order": 1, "doc_length": 8},
          "categorical": {"name": "categorical", "probs": [0.4, 0.3, 0.2, 0.1], "end_prob": 0.2}}


@pytest.mark.parametrize("model", ["gpt", "hf"])
@pytest.mark.parametrize("truth", ["markov", "categorical"])
def test_neural_models_on_known_truth_corpora_measure_kl_and_tv(model, truth, tmp_path):
    pytest.importorskip("torch" if model == "gpt" else "transformers")
    config = {"corpus": {**TRUTHS[truth], "n_train": 200, "n_eval": 100}, "model": TINY_NEURAL[model],
              "sampler": {"max_tokens": 15}, "generations": 2, "ci_rounds": 20, "save_models": False}
    rows = lmcollapse.run(config, out_dir=tmp_path / "run").metrics
    for row in rows:
        for name in ("kl_to_truth", "tv_to_truth"):
            assert np.isfinite(row[name]) and row[f"{name}_lo"] <= row[name] <= row[f"{name}_hi"], (name, row)
        assert 0 <= row["tv_to_truth"] <= 1


def test_the_held_out_kl_estimate_agrees_with_the_exact_kl():
    """The estimator used for neural models, applied to a count model whose KL is known exactly: over 20
    independent held-out sets it lands within 4 of its own standard errors of the exact value, and its
    95% interval covers the exact value at least 16 times (binomial, p = 0.95: P(< 16) < 0.003)."""
    from lmcollapse.experiment import load_source
    from lmcollapse.metrics import GenerationView
    from lmcollapse.metrics.model import kl_to_truth
    from lmcollapse.models.ngram import NGramModel

    config = load_config({"corpus": {"name": "markov", "vocab_size": 6, "order": 2, "doc_length": 10,
                                     "n_train": 300, "n_eval": 20}})
    data = load_source(config)
    model = NGramModel(NGramConfig(order=3, smoothing=0.5)).fit(data.train)
    source = SOURCES.build(config.corpus, seed=config.seed)

    class FullPrefix:  # the same laws, but declaring no enumerable contexts: the metric must estimate
        capabilities = frozenset()

        def supports(self, capability):
            return False

        def __getattr__(self, name):
            return getattr(model, name)

    exact = kl_to_truth(GenerationView(0, model, data.train, data.train, data.train, data.train, data.train,
                                       data.held_out, truth=data.truth, doc_length=10))
    covered = 0
    for k in range(20):
        held = source.truth.sample(400, 10, np.random.default_rng(100 + k), first_id=0, generation=0,
                                   producer="truth", seed=k)
        view = GenerationView(0, FullPrefix(), data.train, data.train, data.train, data.train, data.train, held,
                              truth=data.truth, doc_length=10)
        estimate = kl_to_truth(view)
        low, high = estimate.interval(np.random.default_rng(k), 100)
        se = (high - low) / (2 * 1.96)
        assert abs(estimate.value - exact) < 4 * se, (estimate.value, exact, se)
        covered += low <= exact <= high
    assert covered >= 16, covered


# ---- run directories of earlier versions ----------------------------------------------------------
def test_a_run_directory_of_version_0_2_0_resumes_and_extends_with_identical_numbers(tmp_path):
    """tests/data/run-v0.2.0 was written by lmcollapse 0.2.0 (2 generations of accumulate-subsample on a
    Markov chain with dedup, perplexity and reweight gates, models not saved); the expected rows of 4
    generations were written by the same version in one go."""
    run_dir = tmp_path / "old"
    shutil.copytree(DATA / "run-v0.2.0", run_dir)
    run = lmcollapse.run(None, out_dir=run_dir, overrides=["generations=4"])
    expected = [json.loads(line) for line in (DATA / "run-v0.2.0-extended-metrics.jsonl").read_text().splitlines()]
    assert [sorted(r) for r in run.metrics] == [sorted(r) for r in expected]
    assert run.metrics[:2] == expected[:2]  # the generations 0.2.0 committed, as committed
    # The generations this version adds: every value equal to the last bits but for least-squares fits
    # (zipf_slope) and sums whose rounding follows the BLAS and LAPACK build numpy runs on (1e-12); the
    # intervals differ by design since 0.4.0 (each metric's half-samples draw from a stream of their own).
    for got, want in zip(run.metrics[2:], expected[2:]):
        values = {k: v for k, v in want.items() if not k.endswith(("_lo", "_hi"))}
        assert {k: got[k] for k in values} == {k: pytest.approx(v, rel=1e-12, abs=1e-15) if isinstance(v, float) else v
                                               for k, v in values.items()}
        assert all(got[k] is not None and got[k[:-3] + "_hi"] >= got[k] for k in got if k.endswith("_lo"))
    assert run.config.model.name == "ngram" and "n_layer" not in run.config.model.model_dump()


def test_the_environment_is_recorded_with_the_run_and_each_generation(tmp_path):
    import numpy

    run = lmcollapse.run({"corpus": {"name": "markov", "vocab_size": 4, "doc_length": 4, "n_train": 50,
                                     "n_eval": 20}, "generations": 1}, out_dir=tmp_path / "r")
    environment = json.loads((run.path / "run.json").read_text())["environment"]
    assert environment["libraries"]["numpy"] == numpy.__version__ and environment["device"] == "cpu (numpy)"
    assert environment["python"].count(".") == 2
    manifest = json.loads((run.path / "gen-0000" / "manifest.json").read_text())
    assert manifest["environment"] == environment
