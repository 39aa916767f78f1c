"""Which way collapse goes (P22): the forecast metric (metrics/forecast.py), and the direction study
(studies/direction.py) that writes its forecasts from generation 0 before any run goes further and never
rewrites them."""
import json

import numpy as np
import pytest

from lmcollapse.config import KJVCorpusConfig, NGramConfig, SamplerConfig, TokenizerConfig
from lmcollapse.metrics.base import GenerationView
from lmcollapse.metrics.forecast import direction_forecast
from lmcollapse.models.decoding import Sampler
from lmcollapse.models.ngram import NGramModel
from lmcollapse.sources import SOURCES
from lmcollapse.tokenizers import TOKENIZERS

from helpers import cli


@pytest.fixture(scope="module")
def verses():
    source = SOURCES.build(KJVCorpusConfig(n_train=300, n_eval=150), seed=0)
    return source.load(TOKENIZERS.build(TokenizerConfig(name="word")))


def _view(model, data, samples, sampler, seed=0):
    return GenerationView(0, model, data.train, data.train, samples, samples, data.train, data.held_out,
                          sampler=sampler, seed=seed)


@pytest.mark.parametrize("alpha,temperature", [(1e-4, 1.0), (1e-2, 1.0), (1e-4, 1.15)])
def test_the_count_forecast_is_the_next_generations_model_entropy_change(tmp_path, alpha, temperature):
    """entropy_step at generation 0 forecasts model_entropy(1) - model_entropy(0). Against 8 runs' measured
    first step (replace, KJV bigram, R = 300 verses): the runs' mean change lies within 4 standard errors +
    0.02 nats of the mean forecast. (1e-4, 1.15) is where reading the next model at M_0's positions gets the
    sign wrong (docs/direction.md)."""
    import lmcollapse

    forecast, change = [], []
    for seed in range(8):
        run = lmcollapse.run({"seed": seed, "generations": 2, "ci_rounds": 0, "save_models": False,
                              "corpus": {"name": "kjv", "n_train": 300, "n_eval": 150},
                              "model": {"name": "ngram", "order": 2, "smoothing": alpha},
                              "sampler": {"temperature": temperature, "max_tokens": 127},
                              "metrics": ["model_entropy", "direction_forecast"]}, out_dir=tmp_path / str(seed))
        first, second = run.metrics[0], run.metrics[1]
        forecast.append(first["entropy_step"])
        change.append(second["model_entropy"] - first["model_entropy"])
        assert 0 < first["lambda_eff"] < 1
    se = np.std(np.subtract(change, forecast), ddof=1) / np.sqrt(8)
    assert abs(np.mean(change) - np.mean(forecast)) < 4 * se + 0.02, (np.mean(change), np.mean(forecast))
    assert abs(np.mean(change)) > 0.04  # a change to forecast: the comparison could fail


def test_decoding_lowers_the_forecast_entropy_and_pure_sampling_reads_the_models_own(verses):
    model = NGramModel(NGramConfig(order=2, smoothing=1e-3)).fit(verses.train)
    pure = Sampler(SamplerConfig(max_tokens=127))
    samples = model.sample(300, sampler=pure, seed=1)
    view = _view(model, verses, samples, pure)
    forecast = direction_forecast(view)
    assert forecast["decoded_entropy"] == pytest.approx(model.context_entropies(samples).mean(), abs=1e-9)
    assert forecast["writes_minus_reads"] == pytest.approx(forecast["decoded_entropy"] - view.heldout_nll().value)
    sharp = direction_forecast(_view(model, verses, samples, Sampler(SamplerConfig(temperature=0.7, max_tokens=127))))
    assert sharp["decoded_entropy"] < forecast["decoded_entropy"] - 0.3
    assert direction_forecast(_view(model, verses, samples, None)) is None  # no decoding to read


def test_the_study_writes_its_forecasts_from_generation_0_and_never_rewrites_them(tmp_path):
    out = tmp_path / "direction"
    result = cli("reproduce", "direction", "--quick", "--model", "ngram", "--out", str(out), "-q", timeout=900)
    assert result.returncode == 0, result.stderr
    predictions = json.loads((out / "predictions.json").read_text())
    cells = predictions["cells"]
    assert len(cells) == 4
    for entry in cells.values():
        assert entry["generations_committed"] == [1, 1, 1] and not entry["late"]  # before any generation 1
        assert entry["forecast"] in ("repetition", "noise") and entry["basis"] == "entropy_step"
        assert set(entry["seeds"]) == {"0", "1", "2"}
    results = json.loads((out / "summary.json").read_text())
    assert all(r["generations"] == 4 for r in results)
    assert all(r["joined"] in ("repetition", "noise", "unclear") for r in results)  # scored beside the forecast
    stored = (out / "predictions.json").read_bytes()
    # a rerun, with the runs now at generation 3, keeps every forecast as it was written
    again = cli("reproduce", "direction", "--quick", "--model", "ngram", "--out", str(out), "-q", timeout=900)
    assert again.returncode == 0 and (out / "predictions.json").read_bytes() == stored
    text = (out / "summary.md").read_text()
    assert "Forecast right in" in text and (out / "summary.png").stat().st_size > 10_000
    right = sum(r["forecast_right"] is True for r in results)
    assert f"**Forecast right in {right} of " in text
    shown = cli("show", str(out))
    assert shown.returncode == 0 and "forecast from generation 0 against measured" in shown.stdout
    assert shown.stdout.count("ngram") >= 4  # a row per cell


def test_a_cell_first_forecast_after_its_runs_went_on_is_marked_late_and_not_scored(tmp_path):
    from lmcollapse.studies import direction, load_spec
    from lmcollapse.sweep import Sweep

    spec = direction.effective_spec(load_spec("direction"), quick=True)
    spec["models"]["ngram"]["axes"] = {"alpha": {"key": "model.smoothing", "values": [1e-3]}}
    spec["generations"] = 3
    chosen = direction.cells(spec, ("ngram",), tmp_path)
    sweep = direction.run_study("direction", [(c.tags, c.config) for c in chosen], spec["seeds"], tmp_path,
                                progress=False)  # the runs went on before any forecast
    entry = direction.write_predictions(Sweep(tmp_path), chosen, tmp_path)["cells"][chosen[0].key]
    assert entry["late"] and entry["generations_committed"] == [3, 3, 3]
    results = direction.measured(sweep, chosen, json.loads((tmp_path / "predictions.json").read_text()))
    assert results[0]["forecast_right"] is None and direction.share_right(results) == (0, 0)


def test_a_malformed_axis_is_a_one_line_error():
    from lmcollapse.errors import LmcollapseError
    from lmcollapse.studies import direction, load_spec

    spec = direction.effective_spec(load_spec("direction"), quick=True)
    spec["models"]["ngram"]["axes"] = {"alpha": {"key": "model.smoothing"}}
    with pytest.raises(LmcollapseError, match="axis 'alpha' has a key and no values"):
        direction.cells(spec, ("ngram",))
    spec["models"]["ngram"]["axes"] = {"alpha": [1e-3]}
    with pytest.raises(LmcollapseError, match="axis 'alpha' needs key and values"):
        direction.cells(spec, ("ngram",))


def test_a_neural_models_forecast_reads_its_laws_at_its_samples_positions_under_the_decoding():
    """For a GPT the forecast is writes_minus_reads alone: decoded_entropy under pure sampling is the entropy
    scoring gives at those positions (float32 against float64: within 1e-4), and temperature 0.7 lowers it."""
    from lmcollapse.config import GPTConfig
    from lmcollapse.models.gpt import GPTModel
    from test_gpt import TINY, learnable_corpus

    corpus = learnable_corpus()
    model = GPTModel(GPTConfig(**{**TINY, "epochs": 5})).fit(corpus, seed=0)
    pure = Sampler(SamplerConfig(max_tokens=20))
    samples = model.sample(60, sampler=pure, seed=3)
    view = GenerationView(0, model, corpus, corpus, samples, samples, corpus, corpus, sampler=pure)
    forecast = direction_forecast(view)
    assert set(forecast) == {"decoded_entropy", "writes_minus_reads"}  # no learner side for a neural model
    assert forecast["decoded_entropy"] == pytest.approx(model.context_entropies(samples).mean(), abs=1e-4)
    sharp = direction_forecast(GenerationView(0, model, corpus, corpus, samples, samples, corpus, corpus,
                                              sampler=Sampler(SamplerConfig(temperature=0.7, max_tokens=20))))
    assert sharp["decoded_entropy"] < forecast["decoded_entropy"] - 0.05


def test_a_model_trained_without_end_targets_is_read_without_them():
    """Under eos_loss false the forecast's reads leave each held-out document's end target out: the model never
    learnt it, so counting it adds nats that say nothing about the text the next model learns (the masked
    well-fit GPT's miss in docs/direction.md). With end targets trained, every target counts, as before."""
    from lmcollapse.config import GPTConfig
    from lmcollapse.models.gpt import GPTModel
    from test_gpt import TINY, ends_after_four

    corpus = ends_after_four()
    pure = Sampler(SamplerConfig(max_tokens=12))
    for eos_loss in (False, True):
        model = GPTModel(GPTConfig(**{**TINY, "epochs": 20, "lr": 1e-2}, eos_loss=eos_loss)).fit(corpus, seed=0)
        samples = model.sample(40, sampler=pure, seed=3)
        view = GenerationView(0, model, corpus, corpus, samples, samples, corpus, corpus, sampler=pure)
        forecast = direction_forecast(view)
        _, logp = model.token_log_probs(corpus)  # (5 x documents,): each document's 4 tokens, then its end
        tokens_only = -logp.reshape(len(corpus), 5)[:, :4].mean()
        every_target = view.heldout_nll().value
        reads = forecast["decoded_entropy"] - forecast["writes_minus_reads"]
        if eos_loss:
            assert reads == pytest.approx(every_target, abs=1e-9)
        else:
            assert reads == pytest.approx(tokens_only, abs=1e-9)
            assert every_target > tokens_only + 0.5  # the unlearnt end: without the fix the gap reads this much lower


def test_a_damaged_forecast_file_is_a_one_line_error_that_says_what_to_do(tmp_path):
    from lmcollapse.errors import LmcollapseError
    from lmcollapse.studies import direction

    (tmp_path / "predictions.json").write_text("{not json")
    with pytest.raises(LmcollapseError, match="is not a forecast file lmcollapse wrote .*move it away to forecast"):
        direction.write_predictions(None, [], tmp_path)


def test_the_cpu_cut_scale_replaces_the_axes_it_names_and_an_unknown_scale_is_refused():
    from lmcollapse.errors import LmcollapseError
    from lmcollapse.studies import direction, load_spec

    spec = load_spec("direction")
    full = direction.cells(direction.effective_spec(spec, quick=False), ("gpt",))
    cut = direction.cells(direction.effective_spec(spec, quick=False, scale="cpu-cut"), ("gpt",))
    assert len(full) == 3 * 4 * 2 and len(cut) == 2 * 2 * 1  # fine-tuned, two temperatures, eos off: left out
    assert {c.label for c in cut} <= {c.label for c in full}
    assert {c.config["model"].get("epochs") for c in cut} == {2, 8}
    with pytest.raises(LmcollapseError, match="--scale 'huge': choose cpu or one of cpu-cut"):
        direction.effective_spec(spec, quick=False, scale="huge")


@pytest.mark.parametrize("temperature", [0.6, 1.4])
def test_the_neural_forecast_draws_the_next_generation_as_the_run_trains_it(tmp_path, temperature):
    """A neural model's entropy_step at generation 0 trains one next generation as the run will train
    generation 1 and reads its entropy: it forecasts model_entropy(1) - model_entropy(0). Against 6 runs of a
    tiny GPT on a Markov chain: the runs' mean change lies within 4 standard errors + 0.05 nats of the mean
    forecast, and each seed's forecast has the sign of the decoding's pull (0.6 sharpens, 1.4 flattens).
    Later generations do not draw it (a generation's cost, and no forecast needs it)."""
    import lmcollapse

    forecast, change = [], []
    for seed in range(6):
        run = lmcollapse.run({"seed": seed, "generations": 2, "ci_rounds": 0, "save_models": False,
                              "corpus": {"name": "markov", "vocab_size": 8, "order": 1, "concentration": 0.5,
                                         "doc_length": 12, "n_train": 200, "n_eval": 100},
                              "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "n_embd": 16, "block_size": 16,
                                        "epochs": 4, "lr": 1e-2},
                              "sampler": {"temperature": temperature},
                              "metrics": ["model_entropy", "direction_forecast"]}, out_dir=tmp_path / str(seed))
        first, second = run.metrics[0], run.metrics[1]
        forecast.append(first["entropy_step"])
        change.append(second["model_entropy"] - first["model_entropy"])
        assert second.get("entropy_step") is None
    assert all((np.array(forecast) < 0) == (temperature < 1)), forecast
    se = np.std(np.subtract(change, forecast), ddof=1) / np.sqrt(6)
    assert abs(np.mean(change) - np.mean(forecast)) < 4 * se + 0.05, (np.mean(change), np.mean(forecast))
    assert abs(np.mean(change)) > 0.1  # a change to forecast: the comparison could fail


def test_shared_bases_reach_the_fine_tuned_level_and_are_refused_for_the_count_model(tmp_path):
    """The fine-tuned level sets model.base: study as a level's override, so `--bases` applies to the GPT cells
    (it once was refused there: only a model's base section was read) and is refused for the bigram's."""
    from lmcollapse.studies import direction, load_spec

    gpt = cli("reproduce", "direction", "--model", "gpt", "--bases", tmp_path, "--dry-run")
    assert gpt.returncode == 0, gpt.stderr
    ngram = cli("reproduce", "direction", "--model", "ngram", "--bases", tmp_path, "--dry-run")
    assert ngram.returncode == 2 and "--bases applies to rows that fine-tune" in ngram.stderr
    spec = {**load_spec("direction"), "bases": str(tmp_path)}
    based = [cell.config["model"]["base"] for cell in direction.cells(spec, ("gpt",))
             if cell.config["model"].get("init") == "base"]
    assert based and set(based) == {str(tmp_path)}


def _cell_entry(step, gap):
    """A predictions.json entry with per-seed entropy_step and writes_minus_reads values."""
    from lmcollapse.studies import direction

    seeds = {str(i): {"entropy_step": a, "writes_minus_reads": b} for i, (a, b) in enumerate(zip(step, gap))}
    means = {"entropy_step": float(np.mean(step)), "writes_minus_reads": float(np.mean(gap))}
    return {"seeds": seeds, "means": means, "late": False, **direction.forecast_of(means)}


def test_the_joined_rule_takes_the_forecast_whose_seeds_agree_and_is_scored_not_used(tmp_path):
    """The rule read off earlier GPT cells (docs/direction.md): the forecast whose seeds all agree in sign,
    entropy_step first, 'unclear' where neither's do. The summary scores it on its own line; the study's
    forecast of a neural cell follows writes_minus_reads's mean."""
    from lmcollapse.studies import direction

    # cpu-learner's two cells as measured: temperature 1 and 0.95 (seeds' entropy_step, writes_minus_reads)
    at_1 = _cell_entry([0.173, 0.239, 0.227], [0.001, -0.007, 0.054])
    at_095 = _cell_entry([0.092, -0.010, -0.060], [-0.177, -0.184, -0.133])
    neither = _cell_entry([0.1, -0.1, 0.05], [0.02, -0.03, 0.01])
    assert [direction.joined_forecast(e) for e in (at_1, at_095, neither)] == ["noise", "repetition", "unclear"]
    assert at_095["forecast"] == "repetition" and at_095["by_entropy_step"] == "noise"  # the gap's mean, untouched
    assert direction.seeds_agree({"seeds": {"0": {"entropy_step": 0.3}}}, "entropy_step") is None
    rows = []
    for key, entry, measured_way in (("a", at_1, "noise"), ("b", at_095, "repetition"), ("c", neither, "noise")):
        right = lambda called: None if called in (None, "unclear") else called == measured_way  # noqa: E731
        joined = direction.joined_forecast(entry)
        rows.append({"model": "gpt", "cell": key, "means": entry["means"], "basis": entry["basis"],
                     "first_step": np.nan, "forecast": entry["forecast"], "measured": measured_way,
                     "late": False, "joined": joined, "joined_right": right(joined),
                     "forecast_right": right(entry["forecast"]),
                     "by_entropy_step_right": right(entry["by_entropy_step"]),
                     "by_writes_minus_reads_right": right(entry["by_writes_minus_reads"]),
                     "entropy_start": 4.0, "entropy_end": 4.0, "slope": 0.0, "slope_lo": 0.01, "slope_hi": 0.1,
                     "rule_e_32": "mixed or unclear", "capped_start": 0.0, "capped_end": 0.0})
    text = direction.summary({"name": "direction", "generations": 8, "seeds": [0, 1, 2]}, rows,
                             {"cells": {"x": {"written": "then"}}})
    assert "**Forecast right in 3 of 3 cells" in text  # a (noise, right), b (repetition, right), c (noise, right)
    assert "- by entropy_step (the next generation drawn): 2 of 3" in text  # b's drawn step said noise
    assert "right in 2 of the 2 cells it called, unclear in 1" in text
    assert "| noise | unclear |" in text and "| repetition | repetition |" in text


def test_count_models_are_forecast_by_the_drawn_step_and_neural_models_by_the_decoding_gap(tmp_path):
    """basis_of: a count model (its forecast holds lambda_eff) by entropy_step, drawn exactly; a neural model by
    writes_minus_reads, its one drawn step scored beside it. Each cell keeps the rule it was written under, and
    the summary names both rules when a folder holds cells of each."""
    from lmcollapse.studies import direction

    disagree = {"entropy_step": 0.08, "writes_minus_reads": -0.11}  # cpu-097's well-fit cell, in round numbers
    neural = direction.forecast_of(disagree)
    assert (neural["forecast"], neural["basis"], neural["by_entropy_step"]) == ("repetition", "writes_minus_reads",
                                                                               "noise")
    counts = direction.forecast_of({**disagree, "lambda_eff": 0.4})
    assert (counts["forecast"], counts["basis"], counts["by_writes_minus_reads"]) == ("noise", "entropy_step",
                                                                                     "repetition")
    # a count cell whose drawn step is missing falls back on the gap, and says so
    fallback = direction.forecast_of({"writes_minus_reads": 0.2, "lambda_eff": 0.4})
    assert (fallback["forecast"], fallback["basis"]) == ("noise", "writes_minus_reads")
    old_rule = "entropy_step where the cell has it, else writes_minus_reads"
    one = {"cells": {"a": {"rule": direction.RULE}, "b": {"rule": direction.RULE}}}
    two = {"rule": old_rule, "cells": {"a": {}, "b": {"rule": direction.RULE}, "c": {"rule": direction.RULE}}}
    assert direction._rules_written(one) == f"Rule: {direction.RULE}."
    assert direction._rules_written(two) == f"Rules: 1 cells: {old_rule}. 2 cells: {direction.RULE}."


def _benchmark(name: str):
    """A script of benchmarks/ loaded as a module (the folder is not a package)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_scores_script_sums_cells_forecast_in_time_per_basis_and_rule(tmp_path):
    """benchmarks/direction_scores.py, which prints docs/direction.md's counts over several study folders:
    late and unmeasured cells are left out, each basis is counted over the cells forecast both ways, and the
    study's forecast per rule it was written under."""
    scores = _benchmark("direction_scores")

    def cell(name, measured, step, gap, late=False):
        right = lambda way: None if way is None else way == measured  # noqa: E731
        forecast = gap if step is None else step
        return {"model": "gpt", "cell": name, "late": late, "measured": measured, "forecast": forecast,
                "forecast_right": right(forecast), "by_entropy_step": step, "by_entropy_step_right": right(step),
                "by_writes_minus_reads": gap, "by_writes_minus_reads_right": right(gap)}

    rows = [cell("a", "repetition", "noise", "repetition"), cell("b", "noise", "noise", "noise"),
            cell("c", "repetition", None, "repetition"), cell("d", "unclear", "noise", "noise"),
            cell("e", "noise", "repetition", "noise", late=True)]
    (tmp_path / "summary.json").write_text(json.dumps(rows))
    (tmp_path / "predictions.json").write_text(json.dumps(
        {"rule": "old", "cells": {r["cell"]: {"model": "gpt", "cell": r["cell"]} for r in rows[:2]}
         | {r["cell"]: {"model": "gpt", "cell": r["cell"], "rule": "new"} for r in rows[2:]}}))
    cells = scores.scored_cells(tmp_path)
    assert [c["cell"] for c in cells] == ["a", "b", "c"] and [c["rule"] for c in cells] == ["old", "old", "new"]
    assert scores.tally(cells) == "forecast 2 of 3; entropy_step 1 of 2; writes_minus_reads 2 of 2"


def test_the_match_script_finds_a_cell_whose_forecast_changed_when_made_again(tmp_path, monkeypatch, capsys):
    """benchmarks/direction_forecasts_match.py, which shows a grid part's forecasts are the ones committed
    before its runs went on: the largest difference per cell over the values both files hold, and a non-zero
    exit when any forecast differs."""
    match = _benchmark("direction_forecasts_match")

    def entry(gap_0, gap_1, forecast):
        return {"forecast": forecast, "seeds": {"0": {"writes_minus_reads": gap_0, "model_entropy": 4.0},
                                                "1": {"writes_minus_reads": gap_1}}}

    earlier = {"cells": {"a": entry(0.3, 0.2, "noise"), "b": entry(-0.1, 0.05, "repetition"),
                         "c": entry(0.1, 0.1, "noise")}}
    later = {"cells": {"a": entry(0.3, 0.2, "noise"), "b": entry(-0.1, 0.25, "noise")}}
    rows = match.compared(earlier, later)
    assert [(r["cell"], r["values_compared"], r["earlier"], r["later"]) for r in rows] == [
        ("a", 3, "noise", "noise"), ("b", 3, "repetition", "noise")]
    assert rows[0]["largest_difference"] == 0 and abs(rows[1]["largest_difference"] - 0.2) < 1e-12
    for name, data in (("earlier.json", earlier), ("later.json", later)):
        (tmp_path / name).write_text(json.dumps(data))
    monkeypatch.setattr("sys.argv", ["match", str(tmp_path / "earlier.json"), str(tmp_path / "later.json")])
    assert match.main() == 1
    assert "2 cells in both; 1 with the same forecast; changed: b" in capsys.readouterr().out
    (tmp_path / "later.json").write_text(json.dumps({"cells": {"a": later["cells"]["a"]}}))
    assert match.main() == 0


def test_the_grid_parts_are_the_full_grids_runs_each_once(tmp_path):
    """--scale grid-*: the GPT grid run a part per session. Their runs, together, must be the full grid's own (the
    same configs, seeds and generations), each in exactly one part, or the parts' forecasts and outcomes would not
    be the grid's (docs/direction.md)."""
    from lmcollapse.studies import direction, load_spec

    spec = load_spec("direction")

    def runs(scale):
        chosen = direction.effective_spec(spec, quick=False, scale=scale)
        assert (chosen["seeds"], chosen["generations"]) == (spec["seeds"], spec["generations"])
        return [json.dumps(cell.config, sort_keys=True) for cell in direction.cells(chosen, ("gpt",), tmp_path)]

    parts = [scale for scale in spec["scales"] if scale.startswith("grid-")]
    assert len(parts) >= 2
    together = [config for part in parts for config in runs(part)]
    assert len(together) == len(set(together)) and sorted(together) == sorted(runs("cpu"))


def test_the_pairs_script_pairs_by_seed_and_compares_summaries_unpaired(tmp_path, monkeypatch, capsys):
    """benchmarks/direction_pairs.py, behind docs/direction.md's end-token masking figures: per seed, the
    least-squares slope of model_entropy from results.csv, paired across the axis; with --unpaired, Welch's
    test from the summaries' means and intervals alone, which must equal Welch's test on the seeds' slopes."""
    import csv

    from scipy import stats

    from lmcollapse.analysis.aggregation import mean_over_seeds

    pairs = _benchmark("direction_pairs")
    rng = np.random.default_rng(7)
    slopes = {"true": -0.20 + 0.02 * rng.standard_normal(5), "false": -0.26 + 0.03 * rng.standard_normal(5)}
    with open(tmp_path / "results.csv", "w", newline="") as handle:
        table = csv.DictWriter(handle, fieldnames=["cell", "seed", "generation", "model_entropy"])
        table.writeheader()
        for value, by_seed in slopes.items():
            for seed, slope in enumerate(by_seed):
                for generation in range(6):
                    table.writerow({"cell": f"fit well-fit, temperature 0.9, eos_loss {value}", "seed": seed,
                                    "generation": generation, "model_entropy": 4.0 + slope * generation})
    measured = pairs.pairs(pairs.seed_slopes([tmp_path], "model_entropy"), "eos_loss")
    assert list(measured) == ["fit well-fit, temperature 0.9"]
    for value in ("true", "false"):
        got = [measured["fit well-fit, temperature 0.9"][value][seed] for seed in range(5)]
        assert np.allclose(got, slopes[value], atol=1e-9)

    summaries = []
    for value, by_seed in slopes.items():
        mean, low, high = mean_over_seeds(by_seed)
        summaries.append({"cell": f"fit well-fit, temperature 0.9, eos_loss {value}", "seeds": 5, "slope": mean,
                          "slope_lo": low, "slope_hi": high})
    (tmp_path / "summary.json").write_text(json.dumps(summaries))
    monkeypatch.setattr("sys.argv", ["pairs", str(tmp_path), "--unpaired"])
    pairs.main()
    row = capsys.readouterr().out.splitlines()[-1].split(" | ")
    welch = stats.ttest_ind(slopes["false"], slopes["true"], equal_var=False).pvalue
    assert row[3] == f"{slopes['false'].mean() - slopes['true'].mean():+.3f}" and row[4] == f"{welch:.3f}"
    assert 0.001 < welch < 0.2  # a test with room to fail: a wrong spread moves the printed p
