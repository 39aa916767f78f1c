"""Reading committed generations back: the stored config, D_t rebuilt from ids, and each generation's model,
loaded when saved and refitted exactly when not."""
import numpy as np
import pytest

import lmcollapse
from lmcollapse.errors import LmcollapseError
from lmcollapse.running.parts import build
from lmcollapse.running.readback import model_of_generation, restore_state, stored_config, training_state
from lmcollapse.running.rundir import RunDir

from conftest import small_truth_config


def test_the_state_rebuilt_from_ids_is_the_state_the_run_trained_on(tmp_path):
    config = small_truth_config(**{"paradigm.name": "accumulate-subsample", "paradigm.rate": 0.5, "generations": 3})
    run = lmcollapse.run(config, out_dir=tmp_path / "r")
    rd = RunDir(run.path)
    experiment = build(run.config, rd)
    state = training_state(experiment, rd, 2)
    assert len(state.train) == 50 and len(state.pool) == 50 + 25 + 25
    assert run.manifest(2).composition == state.train.composition()
    entering = restore_state(experiment, rd, 3)  # the paradigm step replayed with its stage seed
    assert len(entering.pool) == 125 and set(state.pool.doc_id) <= set(entering.pool.doc_id)


def test_an_unsaved_model_is_refitted_to_the_same_law(tmp_path):
    saved = lmcollapse.run(small_truth_config(**{"model.smoothing": 0.5}), out_dir=tmp_path / "saved")
    unsaved = lmcollapse.run(small_truth_config(**{"model.smoothing": 0.5, "save_models": False}),
                             out_dir=tmp_path / "unsaved")
    for t in range(3):
        np.testing.assert_allclose(unsaved.model(t).next_token_probs([]), saved.model(t).next_token_probs([]))
    rd = RunDir(unsaved.path)
    with pytest.raises(LmcollapseError, match="holds no saved model"):
        model_of_generation(unsaved.config, rd, 1, train=None)


def test_a_damaged_stored_config_is_one_line(tmp_path):
    run = lmcollapse.run(small_truth_config(generations=1), out_dir=tmp_path / "r")
    RunDir(run.path).config_file.write_text("- just\n- a list\n")
    with pytest.raises(LmcollapseError, match="is damaged \\(it holds no config\\)"):
        stored_config(run.path)
    RunDir(run.path).config_file.unlink()
    with pytest.raises(LmcollapseError, match="has no config.yaml"):
        stored_config(run.path)


@pytest.mark.parametrize("paradigm, generations_read", [("replace", 1), ("mix", 1), ("accumulate", 12)])
def test_rebuilding_a_state_reads_only_the_generations_its_documents_were_born_at(tmp_path, monkeypatch,
                                                                                  paradigm, generations_read):
    """D_12 under replace or mix holds documents born at generation 12 only: one generation's files are read,
    not twelve (a resume after 10,000 generations used to read them all); accumulate needs every one."""
    import lmcollapse.running.readback as readback

    run = lmcollapse.run(small_truth_config(**{"paradigm.name": paradigm, "generations": 13}), out_dir=tmp_path / "r")
    rd = RunDir(run.path)
    experiment = build(run.config, rd)
    read = []
    original = readback.kept_samples
    monkeypatch.setattr(readback, "kept_samples", lambda files: read.append(files) or original(files))
    state = training_state(experiment, rd, 12)
    assert len(read) == generations_read
    assert run.manifest(12).composition == state.train.composition()
