"""The generation manifest: one typed record that round-trips through manifest.json, reads folders of earlier
versions, and still answers 0.4's dict-style lookups."""
import json
from pathlib import Path

import pytest

from lmcollapse.api import open_results
from lmcollapse.running.manifest import GenerationManifest

V030 = Path(__file__).parent / "data" / "v0.3.0" / "reproduce-quality-quick" / "markov" / "rate-1" / "seed-0"


def test_round_trip_through_json():
    m = GenerationManifest(generation=3, n_train=40, n_sampled=25, n_kept=20, gates={"dedup": [25, 20]},
                           sampling_rounds=2, composition={"real": 20, "synthetic@2": 20},
                           seconds={"fit": 0.25, "sample": 1.5}, environment={"python": "3.11"})
    again = GenerationManifest.from_json(json.loads(json.dumps(m.to_json())))
    assert again == m
    assert again.work_seconds == pytest.approx(1.75)


def test_reads_a_stored_0_3_folder_and_ignores_keys_it_does_not_know():
    record = json.loads((V030 / "gen-0001" / "manifest.json").read_text())
    m = GenerationManifest.from_json({**record, "added_by_a_later_version": 1})
    assert (m.generation, m.n_train, m.n_kept) == (1, 300, 300)
    assert m.composition == {"real": 153, "synthetic@1": 147}
    assert m.work_seconds == pytest.approx(sum(record["seconds"].values()))


def test_minimal_record_takes_defaults():
    m = GenerationManifest.from_json({"generation": 0, "n_train": 5, "n_sampled": 5, "n_kept": 5})
    assert (m.gates, m.sampling_rounds, m.seconds, m.work_seconds) == ({}, 1, {}, 0.0)


def test_dict_style_lookup_kept_for_0_4_code():
    run = open_results(V030)
    m = run.manifest(1)
    assert isinstance(m, GenerationManifest)
    assert m["n_kept"] == m.n_kept == 300 and m.get("composition") == m.composition
    assert m.get("absent", "default") == "default"
    with pytest.raises(KeyError):
        m["absent"]
