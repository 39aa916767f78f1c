"""A run's downstream probe: its labelled documents and settings, the score of each generation's model, and
the random-init baseline, computed once per run and stored in the run directory (its seeds are the
run's, so a run that loses the file recomputes the same numbers)."""
from __future__ import annotations

import json

import numpy as np

from lmcollapse import seeding
from lmcollapse.config import Config
from lmcollapse.corpora.corpus import Corpus
from lmcollapse.models.base import LanguageModel
from lmcollapse.running.rundir import RunDir, atomic_write_text
from lmcollapse.probes.protocol import ProbeScores, probe
from lmcollapse.probes.split import ProbeSplit


class ProbeRun:
    def __init__(self, config: Config, split: ProbeSplit, real: Corpus, held_out: Corpus, new_model, rd: RunDir):
        self.config, self.split, self.real, self.held_out = config, split, real, held_out
        self.new_model = new_model  # () -> a fresh, unfitted model of the run's architecture
        self.path = rd.probe_baseline_file
        self._baseline: dict | None = None

    def score(self, model: LanguageModel, generation: int) -> ProbeScores:
        """The probe on generation t's model, with the stage seed (run seed, t, "probe")."""
        return probe(model, self.split, self.config.probe, seeding.derived_seed(self.config.seed, generation, "probe"))

    def baseline(self) -> dict:
        """{"accuracy", "macro_f1", "heldout_ppl"} of the architecture randomly initialised and probed the
        same way: read from the run directory, or computed (and stored) the first time."""
        if self._baseline is None:
            if self.path.is_file():
                self._baseline = json.loads(self.path.read_text())
            else:
                self._baseline = self._compute_baseline()
                atomic_write_text(self.path, json.dumps(self._baseline, indent=2) + "\n")
        return self._baseline

    def _compute_baseline(self) -> dict:
        root = self.config.seed
        model = self.new_model().untrained(self.real, seed=seeding.derived_seed(root, seeding.SETUP, "probe-init"))
        scores = probe(model, self.split, self.config.probe, seeding.derived_seed(root, seeding.SETUP, "probe-baseline"))
        doc, logp = model.token_log_probs(self.held_out)
        return {"accuracy": float(scores.accuracy.value), "macro_f1": float(scores.macro_f1.value),
                "heldout_ppl": float(np.exp(-logp.sum() / max(len(logp), 1))), "mode": self.config.probe.mode,
                "task": self.config.probe.task, "classes": self.split.classes}
