"""Every registry enforces its written contract, and every config section has the component built from it."""
from pathlib import Path
from typing import Literal

import numpy as np
import pytest
from pydantic import BaseModel

import lmcollapse
from lmcollapse.config import NonemptyGateConfig, Section, section_classes, validate
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


def test_the_registry_names_a_component_and_its_section_from_the_one_name_it_is_given():
    class Quiet(Filter):  # no section of its own: it has no parameters
        def keep(self, corpus, ctx, rng):
            return np.ones(len(corpus), bool), None

    class Loud(Quiet):  # a subclass under its own name: the parent's parameters, its own tag
        pass

    class Othername(Section):
        name: Literal["nonempty"] = "nonempty"  # written by hand, and not the name it is registered under

    class Misnamed(Quiet):
        config_class = Othername

    class Wrongly(Quiet):
        name = "other"

    class OldStyleConfig(Section):  # as sections were written for 0.4: the name three times, all equal
        name: Literal["old-style"] = "old-style"
        limit: int = 3

    class OldStyle(Quiet):
        name, config_class = "old-style", OldStyleConfig

    try:
        GATES.register("quiet", "no parameters")(Quiet)
        GATES.register("loud", "a subclass")(Loud)
        GATES.register("old-style", "a 0.4 plugin")(OldStyle)
        assert validate({"gates": [{"name": "old-style", "limit": 5}]}).gates[0] == OldStyleConfig(limit=5)
        assert (Quiet.name, Loud.name) == ("quiet", "loud")
        assert Quiet.config_class().model_dump() == {"name": "quiet"}
        assert Loud.config_class().model_dump() == {"name": "loud"}
        assert [g.name for g in validate({"gates": ["quiet", {"name": "loud"}]}).gates] == ["quiet", "loud"]
        with pytest.raises(ContractError, match="is the section of 'nonempty', not of 'misnamed'"):
            GATES.register("misnamed", "another gate's section")(Misnamed)
        with pytest.raises(ContractError, match="Wrongly.name says 'other'"):
            GATES.register("wrongly", "a second name")(Wrongly)
        assert "misnamed" not in GATES and "wrongly" not in GATES
    finally:
        for name in ("quiet", "loud", "old-style"):
            GATES.forget(name)


def test_a_corpus_and_a_tokenizer_registered_from_outside_are_named_in_a_config_and_run(tmp_path):
    """Plugin corpora and tokenizers join their config unions as models and paradigms do (tests/test_plugins.py):
    each subclasses a built-in one and extends its section with one key, which reaches the component."""
    from pydantic import Field

    from lmcollapse.sources.text import KJVSource, TextCorpusConfig
    from lmcollapse.tokenizers.vocab import VocabTokenizerConfig, WordTokenizer

    class ShortVersesConfig(TextCorpusConfig):
        max_words: int = Field(12, ge=1)

    class ShortVerses(KJVSource):  # the KJV's verses of at most max_words words
        config_class = ShortVersesConfig

        def records(self, task):
            return [r for r in super().records(task) if len(r[0].split()) <= self.section.max_words]

    class BareWordsConfig(VocabTokenizerConfig):
        keep_punctuation: bool = False

    class BareWords(WordTokenizer):  # words without the punctuation marks
        config_class = BareWordsConfig

        def split(self, text):
            return [w for w in super().split(text) if self.config.keep_punctuation or w[0].isalnum()]

    SOURCES.register("short-verses", "short KJV verses")(ShortVerses)
    TOKENIZERS.register("bare-words", "words only")(BareWords)
    try:
        config = {"corpus": {"name": "short-verses", "max_words": 9, "n_train": 40, "n_eval": 20},
                  "tokenizer": {"name": "bare-words"}, "generations": 1, "ci_rounds": 0, "save_models": False}
        run = lmcollapse.run(config, tmp_path / "run")
        assert run.config.corpus.max_words == 9 and run.config.tokenizer.keep_punctuation is False
        assert max(np.diff(run.real.offsets)) <= 9  # no punctuation tokens: words only, at most 9 of them
        symbols = run.tokenizer().symbols_
        assert "," not in symbols and "." not in symbols and "the" in symbols
    finally:
        SOURCES.forget("short-verses")
        TOKENIZERS.forget("bare-words")


def test_every_config_section_has_a_registered_component_and_back():
    for section, registry in (("model", MODELS), ("corpus", SOURCES), ("gates", GATES), ("tokenizer", TOKENIZERS),
                              ("paradigm", PARADIGMS)):
        assert set(section_classes(section)) == set(registry.names()), section
        for name, cls in section_classes(section).items():
            assert registry.get(name).config_class is cls  # built from its own section (Registry.build)
    assert {EXECUTORS.get(n).config_class.model_fields["name"].default for n in EXECUTORS.names()} == {"local", "ray"}
