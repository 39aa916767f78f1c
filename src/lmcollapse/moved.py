"""Import paths of 0.4 whose modules moved in 0.5 (P16's layout): each still imports, as the very module at its
new path, with a DeprecationWarning, for one minor version. Installed by lmcollapse/__init__.py, so that
`import lmcollapse.runner` and `mock.patch("lmcollapse.runner.x")` in a user's code keep working."""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

NEW_PATH = {
    "lmcollapse.experiment": "lmcollapse.running.parts",
    "lmcollapse.runner": "lmcollapse.running.loop",
    "lmcollapse.rundir": "lmcollapse.running.rundir",
    "lmcollapse.readback": "lmcollapse.running.readback",
    "lmcollapse.stop_signals": "lmcollapse.running.stop_signals",
    "lmcollapse.provenance": "lmcollapse.running.provenance",
    "lmcollapse.progress": "lmcollapse.running.progress",
    "lmcollapse.aggregation": "lmcollapse.analysis.aggregation",
    "lmcollapse.early_warning": "lmcollapse.analysis.early_warning",
    "lmcollapse.verdict": "lmcollapse.analysis.verdict",
    "lmcollapse.stats": "lmcollapse.analysis.stats",
    "lmcollapse.report": "lmcollapse.analysis.report",
    "lmcollapse.theory.compare": "lmcollapse.analysis.theory_compare",
    "lmcollapse.corpus": "lmcollapse.corpora.corpus",
    "lmcollapse.corpus_io": "lmcollapse.corpora.parquet",
    "lmcollapse.contexts": "lmcollapse.corpora.contexts",
    "lmcollapse.ngrams": "lmcollapse.corpora.ngrams",
    "lmcollapse.sampling": "lmcollapse.models.decoding",
    "lmcollapse.metrics.detection": "lmcollapse.metrics.detectability",
    "lmcollapse.detection": "lmcollapse.probes.detector",
    "lmcollapse.experiments.base": "lmcollapse.studies.base",
    "lmcollapse.experiments.study": "lmcollapse.studies.execution",
    "lmcollapse.experiments.paper": "lmcollapse.studies.paper",
    "lmcollapse.experiments.mitigations": "lmcollapse.studies.mitigations",
    "lmcollapse.experiments.quality": "lmcollapse.studies.quality",
    "lmcollapse.experiments": "lmcollapse.studies",
    "lmcollapse.theory.check_context": "lmcollapse.studies.theory_check_context",
    "lmcollapse.theory.check": "lmcollapse.studies.theory_check",
    "lmcollapse.theory.kazdan_study": "lmcollapse.studies.kazdan",
    "lmcollapse.theory.labels": "lmcollapse.studies.theory_labels",
    "lmcollapse.theory.cli": "lmcollapse.cli.theory",
}


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an old path and loads it as the module at the new one (the same object: no second copy, so a
    registry filled by the new module is the one the old path sees)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname not in NEW_PATH:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec):
        new = NEW_PATH[spec.name]
        warnings.warn(f"{spec.name} moved to {new} in lmcollapse 0.5; the old path goes in 0.6",
                      DeprecationWarning, stacklevel=2)
        return importlib.import_module(new)

    def exec_module(self, module):
        pass  # the module at the new path is already executed


def install() -> None:
    if not any(isinstance(finder, MovedModuleFinder) for finder in sys.meta_path):
        sys.meta_path.insert(0, MovedModuleFinder())  # before the path finder, which would load a second copy
                                                     # of a module found under an old package name
