"""moved.py: every 0.4 import path of a module that moved still imports, as the same module object, with a
DeprecationWarning that names the new path."""
import importlib
import subprocess
import sys
import warnings

import pytest

from lmcollapse.moved import NEW_PATH


@pytest.mark.parametrize("old", sorted(NEW_PATH))
def test_old_path_is_the_new_module_and_warns(old):
    new = importlib.import_module(NEW_PATH[old])
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {NEW_PATH[old]}"):
        assert importlib.import_module(old) is new


def test_a_submodule_under_an_old_package_name_is_not_loaded_twice():
    """lmcollapse.experiments.paper must be studies/paper.py itself: a second copy would register its study twice
    and hold a registry of its own."""
    code = ("import warnings; warnings.simplefilter('ignore'); import lmcollapse.experiments.paper as old; "
            "import lmcollapse.studies.paper as new; from lmcollapse.studies.base import STUDIES; "
            "print(old is new, STUDIES.get('paper') is new.PaperStudy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]


def test_current_paths_import_without_a_warning():
    code = ("import warnings; warnings.simplefilter('error'); import lmcollapse, lmcollapse.cli, lmcollapse.studies, "
            "lmcollapse.cli.theory, lmcollapse.analysis.report")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_no_old_path_is_still_a_file():
    root = importlib.import_module("lmcollapse").__path__[0]
    from pathlib import Path

    left = [old for old in NEW_PATH if (Path(root).parent / (old.replace(".", "/") + ".py")).exists()
            or (Path(root).parent / old.replace(".", "/")).is_dir()]
    assert not left
