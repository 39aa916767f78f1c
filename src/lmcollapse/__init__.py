"""lmcollapse: train language models generation after generation on their own output, and measure
how they collapse when the real data is a finite set (Wang et al., arXiv 2412.14872)."""
from lmcollapse import moved

moved.install()  # 0.4 import paths keep working (moved.py)

from lmcollapse.api import Run, load_run, open_results, run  # noqa: E402
from lmcollapse.config import Config  # noqa: E402
from lmcollapse.corpora.corpus import Corpus, Provenance  # noqa: E402
from lmcollapse.errors import LmcollapseError  # noqa: E402
from lmcollapse.running.parts import load_config  # noqa: E402
from lmcollapse.sweep import Sweep  # noqa: E402
from lmcollapse.version import __version__  # noqa: F401

__all__ = ["Config", "Corpus", "LmcollapseError", "Provenance", "Run", "Sweep", "load_config", "load_run",
           "open_results", "run"]
