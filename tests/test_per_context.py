"""The theory beyond the unigram: the law of every context (per_context.py), which way collapse goes
(direction.py), their CLI, and their row families in `theory check` against the real runner."""
import itertools
import json

import numpy as np
import pytest

from lmcollapse.config import SamplerConfig
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import load_config
from lmcollapse.models.decoding import Sampler
from lmcollapse.sources.truth import KnownTruth
from lmcollapse.studies import theory_check_context as check_context
from lmcollapse.theory import predict
from lmcollapse.studies.theory_check import Z_LIMIT, battery, simulate_many
from lmcollapse.theory.direction import concentration, dirichlet_entropy, entropy, entropy_path, fixed_point
from lmcollapse.theory.per_context import (ChainSpace, Setting, context_prediction_for, document_moments,
                                           predict_contexts)

from helpers import cli


def brute_force_moments(space, kernel, length):
    """E[n_x], E[C(x,v)], E[n_x^2], E[C(x,v) n_x] by enumerating every document."""
    S, V = kernel.shape
    n, c, n2, cn = np.zeros(S), np.zeros((S, V)), np.zeros(S), np.zeros((S, V))
    for tokens in itertools.product(range(V), repeat=length):
        prob, state, visits, pairs = 1.0, 0, np.zeros(S), np.zeros((S, V))
        for v in tokens:
            prob *= kernel[state, v]
            visits[state] += 1
            pairs[state, v] += 1
            state = space.next_state[state, v]
        n += prob * visits
        c += prob * pairs
        n2 += prob * visits**2
        cn += prob * pairs * visits[:, None]
    return n, c, n2, cn


@pytest.mark.parametrize("order", [1, 2])
def test_document_moments_equal_enumeration(order):
    rng = np.random.default_rng(3)
    space = ChainSpace.build(order, 2, 5)
    kernel = rng.dirichlet(np.ones(2), size=len(space.states))
    got = document_moments(space, kernel, 5)
    for mine, ref in zip((got.n, got.c, got.n2, got.cn), brute_force_moments(space, kernel, 5)):
        np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-14)


def _chain(vocab_size=3, seed=1):
    rng = np.random.default_rng(seed)
    return KnownTruth(rng.dirichlet(np.full(vocab_size, 0.7), size=vocab_size + 1), order=1, n_tokens=vocab_size,
                      end_prob=None)


@pytest.mark.parametrize("paradigm", ["replace", "mix", "accumulate", "accumulate-subsample", "fresh"])
def test_start_context_follows_the_exact_unigram_recursion(paradigm):
    """The start context is seen exactly once per document: its expected law is the unigram closed form."""
    truth = _chain()
    setting = Setting(paradigm, 40, 6, 0.5, 8, rate=0.5)
    pred = predict_contexts(truth, setting)
    start = truth.next_token_probs(np.array([[-1]]))[0]
    unigram = predict(paradigm, start, 0.5, 40, 8, rate=0.5)
    expected = np.array([unigram.mean_model(t) for t in range(8)])
    np.testing.assert_allclose(pred.probs[:, 0], expected, rtol=1e-10)
    np.testing.assert_allclose(pred.real_weight[:, 0], unigram.c, rtol=1e-10)
    assert pred.exact[0] and not pred.exact[1:].any()
    np.testing.assert_allclose(pred.probs.sum(axis=2), 1.0, rtol=1e-12)


def test_paper_form_weights_and_errors():
    """E[M_t] = c_t p + e_t: under replace with smoothing the real weight only falls, the errors carry the rest,
    and under accumulate the weight stays near its first value (the unigram's exact invariance, per context)."""
    truth = _chain()
    replace = predict_contexts(truth, Setting("replace", 60, 8, 1.0, 10))
    assert (np.diff(replace.real_weight, axis=0) < 0).all()
    np.testing.assert_allclose(replace.errors().sum(axis=2), 1 - replace.real_weight, atol=1e-9)
    accumulate = predict_contexts(truth, Setting("accumulate", 60, 8, 1.0, 10, rate=0.5))
    assert np.abs(accumulate.real_weight[-1] / accumulate.real_weight[0] - 1).max() < 0.02


def test_exact_mle_keeps_the_law_to_second_order():
    """alpha = 0: the only drift left is the chain's own ratio bias, of order 1 / E[n_x]."""
    truth = _chain()
    pred = predict_contexts(truth, Setting("replace", 400, 8, 0.0, 5))
    drift = np.abs(pred.probs[-1] - pred.truth).max(axis=1)
    assert drift[0] < 1e-12  # the start context: exact, no drift
    assert (drift[1:] < 5.0 / pred.expected_count[-1, 1:]).all()


def test_predict_json_prints_one_object_per_generation(tmp_path):
    cfg = tmp_path / "m.yaml"
    cfg.write_text("generations: 3\ncorpus: {name: markov, vocab_size: 3, order: 1, doc_length: 8, n_train: 40,"
                   " truth_seed: 2}\nmodel: {name: ngram, order: 2, smoothing: 0.5}\nparadigm: {name: replace}\n")
    out = cli("theory", "predict", cfg, "--json")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert [r["generation"] for r in rows] == [0, 1, 2]
    contexts = [c["context"] for c in rows[0]["contexts"]]
    assert contexts == [[-1], [0], [1], [2]]
    for r in rows:
        for c in r["contexts"]:
            assert len(c["probs"]) == 3 and sum(c["probs"]) == pytest.approx(1.0, abs=1e-12)
    pred = context_prediction_for(load_config(cfg))
    np.testing.assert_allclose(np.array(rows[2]["contexts"][1]["probs"]), pred.probs[2, 1])
    table = cli("theory", "predict", cfg, "--set", "sampler.temperature=0.7")
    assert "towards repetition" in table.stdout


def test_predict_refuses_what_it_does_not_cover(tmp_path):
    cfg = tmp_path / "m.yaml"
    cfg.write_text("corpus: {name: markov, vocab_size: 3, order: 1, doc_length: 8, n_train: 40}\n"
                   "model: {name: ngram, order: 3}\n")
    out = cli("theory", "predict", cfg)
    assert out.returncode == 2 and "model.order = corpus.order + 1" in out.stderr
    with pytest.raises(LmcollapseError, match="fixed length"):
        context_prediction_for(load_config({"corpus": {"name": "markov", "vocab_size": 3, "end_prob": 0.1},
                                            "model": {"name": "ngram", "order": 2}}))


# ---- which way collapse goes -----------------------------------------------------------------------------
P6 = np.array([0.35, 0.25, 0.2, 0.12, 0.05, 0.03])


def test_pure_sampling_path_keeps_the_exact_moments():
    """Under pure sampling the closure's mean and collision are the unigram's exact recursions."""
    path = entropy_path(P6, 50, 1, 0.5, None, 8)
    exact = predict("replace", P6, 0.5, 50, 8)
    np.testing.assert_allclose(path.mean_law[:, 0], [exact.mean_model(t) for t in range(8)], rtol=1e-12)
    np.testing.assert_allclose(path.collision[:, 0], exact.collision, rtol=1e-12)


def test_dirichlet_closure_entropy():
    mean = np.array([0.5, 0.3, 0.2])
    kappa = concentration(mean, (3.0 * (mean**2).sum() + 1) / 4.0)
    assert kappa == pytest.approx(3.0)
    draws = np.random.default_rng(0).dirichlet(3.0 * mean, size=200_000)
    assert dirichlet_entropy(mean, kappa) == pytest.approx(entropy(draws).mean(), abs=3e-3)


@pytest.mark.parametrize("alpha,decoding,way", [
    (0.05, {}, "repetition"),  # little smoothing: sampling loses tokens faster than smoothing returns them
    (1.0, {}, "noise"),  # strong smoothing wins
    (1.0, {"temperature": 0.7}, "repetition"),  # lambda / tau > 1: the uniform law is unstable
    (0.05, {"top_k": 3}, "repetition"),
])
def test_direction_of_collapse(alpha, decoding, way):
    path = entropy_path(P6, 100, 1, alpha, Sampler(SamplerConfig(**decoding)), 10)
    assert path.way == way
    assert np.sign(path.expected_entropy[-1] - path.expected_entropy[0]) == (-1 if way == "repetition" else 1)


def test_temperature_fixed_point_is_peaked_when_tau_below_lambda():
    lam = 0.95
    sharp = fixed_point(P6, lam, Sampler(SamplerConfig(temperature=0.7)))
    assert sharp.max() > lam  # nearly all of lambda on one token
    flat = fixed_point(P6, lam, Sampler(SamplerConfig(temperature=1.2)))
    np.testing.assert_allclose(flat, 1 / 6, atol=1e-6)  # tau > lambda: the uniform law is stable


# ---- the row families against the real runner -----------------------------------------------------------
def test_quick_families_pass_and_have_power():
    """The quick per-context and direction rows pass on the real runner, and a wrong prediction (the
    smoothing doubled) is caught by the per-context rows."""
    chains = check_context.families(quick=True, seeds=40)
    simulated = simulate_many(chains.contexts + chains.directions, workers=2)
    (case, _), (laws, _) = chains.contexts[0], simulated[0]
    rows = check_context.context_rows(case, laws, Z_LIMIT)
    assert rows and all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
    assert any("exact" in r["quantity"] for r in rows)
    wrong = check_context.ChainCase(case.paradigm, case.alpha * 2, case.n, generations=case.generations)
    assert not all(r["ok"] for r in check_context.context_rows(wrong, laws, Z_LIMIT))
    for (case, _), (_, entropies) in zip(chains.directions, simulated[1:]):
        rows = check_context.direction_rows(case, entropies, Z_LIMIT)
        assert all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]


@pytest.mark.slow
def test_full_battery_passes():
    rows = battery(quick=False, workers=2)
    failed = [r for r in rows if not r["ok"]]
    assert not failed, failed


# ---- peers' laws -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("rate", [1.0, 0.5])
def test_accumulate_squared_error_matches_a_direct_simulation(rate):
    """Gerstgrasser's categorical analogue: the exact E||M_t - p||^2 against 20,000 direct simulations of the
    MLE under accumulate (|z| < 4.5 per generation), and below the bound factor times generation 0's."""
    from lmcollapse.theory.peers import accumulate_bound_factor, accumulate_squared_error

    p, n, seeds, generations = np.array([0.35, 0.25, 0.2, 0.12, 0.08]), 20, 20_000, 8
    m = int(round(rate * n))
    rng = np.random.default_rng(11)
    model = rng.multinomial(n, p, size=seeds) / n
    pool, errors = n, [((model - p) ** 2).sum(axis=1)]
    for _ in range(1, generations):
        draws = np.stack([rng.multinomial(m, row) for row in model]) / m
        model, pool = (pool * model + m * draws) / (pool + m), pool + m
        errors.append(((model - p) ** 2).sum(axis=1))
    errors = np.array(errors)  # (T, S)
    predicted = accumulate_squared_error(p, n, rate, generations)
    z = (errors.mean(axis=1) - predicted) / (errors.std(axis=1, ddof=1) / np.sqrt(seeds))
    assert np.abs(z).max() < 4.5, z
    assert (predicted <= accumulate_bound_factor(rate) * predicted[0]).all()
    assert accumulate_bound_factor(1.0) == pytest.approx(np.pi**2 / 6)


# ---- Kazdan et al.: runs extended until they collapse ------------------------------------------------------
def test_a_run_extended_until_it_collapses_equals_one_long_run(tmp_path):
    """RunTask.until extends a run by half its length until the stop rule holds: it stops at the first
    length where the model has one token, and its generations are those of a run given that length at once."""
    from lmcollapse.running.rundir import RunDir
    from lmcollapse.sweep.task import RunTask, execute_task, extended_length
    from lmcollapse.theory import kazdan

    config = load_config(kazdan.config(10, seed=3)).model_dump()
    extended = execute_task(RunTask(config, str(tmp_path / "until"), until=kazdan.collapsed,
                                    max_generations=kazdan.LONGEST_RUN, collect=kazdan.first_collapse))
    assert extended.ok, extended.error
    long = execute_task(RunTask({**config, "generations": 400}, str(tmp_path / "long")))
    assert long.ok
    ran = RunDir(str(tmp_path / "until")).read_metrics_jsonl()
    whole = RunDir(str(tmp_path / "long")).read_metrics_jsonl()
    first = extended.value[0]
    assert ran == whole[:len(ran)]  # same numbers, generation by generation
    assert [row["model_entropy"] for row in whole].index(0.0) == first
    lengths = [config["generations"]]
    while lengths[-1] <= first:
        lengths.append(extended_length(lengths[-1]))
    assert len(ran) == lengths[-1]  # the first length of the schedule that holds the collapse


def test_a_run_that_never_meets_its_stop_rule_fails_with_one_line(tmp_path):
    from lmcollapse.sweep.task import RunTask, execute_task
    from lmcollapse.theory import kazdan

    config = load_config(kazdan.config(1000, seed=0)).model_dump()
    outcome = execute_task(RunTask({**config, "generations": 4}, str(tmp_path / "r"), until=kazdan.collapsed,
                                   max_generations=8))
    assert not outcome.ok and "stop rule did not hold within 8 generations" in outcome.error


def test_kazdan_prediction_is_wright_fisher_exact_then_diffusion():
    from lmcollapse.theory import kazdan
    from lmcollapse.theory.wright_fisher import MAX_N, WrightFisher

    exact, how = kazdan.predicted_collapse(100)
    assert how == "exact" and exact == pytest.approx(WrightFisher(np.full(10, 0.1), 100).collapse_generation())
    at_max = WrightFisher(np.full(10, 0.1), MAX_N)
    assert at_max.collapse_generation_diffusion() == pytest.approx(at_max.collapse_generation(), rel=2e-3)
    beyond, how = kazdan.predicted_collapse(10_000)
    assert how == "diffusion" and beyond / 10_000 == pytest.approx(-2 * 9 * np.log(0.9), rel=1e-12)  # 1.896 N


@pytest.mark.slow  # 16 s of simulation; the full theory battery (slow too) runs these rows with 80 runs each
def test_kazdan_rows_pass_and_have_power():
    """60 runs at N = 10 and 30: the mean collapse generation within Z_LIMIT of Wright-Fisher's; a
    prediction 80% too large is rejected (the collapse time spreads widely, standard deviation about 0.7 of
    its mean: 60 runs resolve gross errors only, the battery's 80 and the study's larger N a little more)."""
    from lmcollapse.theory import kazdan
    from lmcollapse.studies.theory_check import kazdan_rows

    cases = [kazdan.KazdanCase(10), kazdan.KazdanCase(30)]
    for case, (generations,) in zip(cases, simulate_many([(c, 60) for c in cases], workers=2)):
        (row,) = kazdan_rows(case, generations)
        assert row["ok"], row
        assert abs(generations.mean() - 1.8 * row["predicted"]) > Z_LIMIT * row["se"]


def test_kazdan_command_saves_each_size_and_reuses_it(tmp_path):
    done = cli("theory", "kazdan", "--out", tmp_path, "--sizes", "10,20", "--seeds", "6", "--workers", "2")
    assert done.returncode == 0, done.stderr
    rows = json.loads((tmp_path / "kazdan.json").read_text())
    assert [r["n"] for r in rows] == [10, 20] and all(r["ok"] for r in rows)
    assert (tmp_path / "kazdan.png").stat().st_size > 0
    saved = json.loads((tmp_path / "kazdan-N-10.json").read_text())
    assert len(saved) == 6 and np.mean(saved) == pytest.approx(rows[0]["measured"])
    again = cli("theory", "kazdan", "--out", tmp_path, "--sizes", "10", "--seeds", "6", "--workers", "2")
    assert again.returncode == 0 and "runs, " not in again.stderr  # nothing simulated again


# ---- n*(r) per context -------------------------------------------------------------------------------------
def test_collapse_time_rows_pass_and_have_power():
    """The quick n*(r) case: each judged context's collapse generation within its tolerance; a prediction
    with twice the smoothing (every lambda_x smaller: earlier collapse) fails."""
    chains = check_context.families(quick=True, seeds=100)
    ((case, seeds),) = chains.collapse_times
    (laws, _), = simulate_many([(case, seeds)], workers=2)
    rows = check_context.collapse_time_rows(case, laws)
    assert len(rows) >= 3 and all(r["ok"] for r in rows), [r for r in rows if not r["ok"]]
    wrong = check_context.ChainCase(case.paradigm, case.alpha * 2, case.n, rate=case.rate,
                                    generations=case.generations)
    assert not all(r["ok"] for r in check_context.collapse_time_rows(wrong, laws))
