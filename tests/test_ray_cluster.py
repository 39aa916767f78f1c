"""The Ray executor on a local cluster of two simulated nodes (ray.cluster_utils.Cluster): the same numbers as
the local pool, also when a node is removed mid-sweep; the shared-storage check."""
import os
import threading
import time

import pyarrow.parquet as pq
import pytest

os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray")

from lmcollapse.sweep import load_spec, make_executor, run_sweep  # noqa: E402
from lmcollapse.sweep.executors.ray_cluster import PROBE, _probe_storage  # noqa: E402

pytestmark = pytest.mark.slow

SPEC = {"generations": 6, "ci_rounds": 10,
        "corpus": {"name": "markov", "vocab_size": 6, "doc_length": 8, "n_train": 4000, "n_eval": 200},
        "sweep": {"grid": {"model.order": [1, 2, 3]}, "seeds": [0, 1]}}


@pytest.fixture
def cluster():
    from ray.cluster_utils import Cluster

    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    worker = c.add_node(num_cpus=1)
    c.wait_for_nodes()
    yield c, worker
    ray.shutdown()
    c.shutdown()


def local_reference(tmp_path, spec=SPEC):
    run_sweep(load_spec(spec), tmp_path / "local", make_executor("local", workers=2), progress=False)
    return pq.read_table(tmp_path / "local" / "results.parquet")


def test_ray_on_two_nodes_gives_the_local_pools_numbers(tmp_path, cluster):
    c, _ = cluster
    out = tmp_path / "ray"
    _, outcome = run_sweep(load_spec(SPEC), out, make_executor("ray", address=c.address, storage=out), progress=False)
    assert not outcome.failures and len(outcome.outcomes) == 6
    assert len({o.node for o in outcome.outcomes}) == 2  # both nodes worked
    assert pq.read_table(out / "results.parquet").equals(local_reference(tmp_path))
    assert not list(out.glob(f"{PROBE}*"))  # the storage probe leaves nothing behind


def test_a_node_removed_mid_sweep_has_its_runs_retried_and_resumed_with_the_same_numbers(tmp_path, cluster):
    c, worker = cluster
    spec = {**SPEC, "generations": 14}
    out = tmp_path / "ray"
    result = {}

    def sweep():
        result["outcome"] = run_sweep(load_spec(spec), out, make_executor("ray", address=c.address, storage=out),
                                      progress=False)[1]

    thread = threading.Thread(target=sweep)
    thread.start()
    deadline = time.monotonic() + 120
    while len(list(out.glob("runs/*/gen-*[0-9]/DONE"))) < 4 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = len(list(out.glob("runs/*/gen-*[0-9]/DONE")))
    c.remove_node(worker)  # its raylet and workers die; Ray retries their tasks on the head node
    thread.join(timeout=600)
    assert not thread.is_alive()
    outcome = result["outcome"]
    assert before < 14, "a run had finished before the node was removed: not every run was in flight"
    assert not outcome.failures, [f.error for f in outcome.failures]
    # Every run ended on the head node, the one that ran on the removed node included: it was retried there.
    assert {o.node for o in outcome.outcomes} == {c.head_node.node_id[:8]}
    assert pq.read_table(out / "results.parquet").equals(local_reference(tmp_path, spec))


def test_the_storage_probe_says_which_node_cannot_see_the_folder(tmp_path, cluster):
    c, _ = cluster
    ray.init(address=c.address)
    problem = _probe_storage(str(tmp_path), "token")  # no probe file written there: this node cannot see it
    assert problem.startswith("node ") and "cannot read" in problem
    (tmp_path / PROBE).write_text("another")
    assert "sees another" in _probe_storage(str(tmp_path), "token")
    (tmp_path / PROBE).write_text("token")
    assert _probe_storage(str(tmp_path), "token") is None


def test_several_seeds_go_through_ray_as_well_with_the_same_aggregate(tmp_path, cluster):
    """`run --seeds` (and `reproduce`, which uses the same call) take --executor ray."""
    from lmcollapse.running.parts import load_config
    import pyarrow.parquet as pq

    from lmcollapse.sweep import run_seeds

    c, _ = cluster
    config = load_config({k: v for k, v in SPEC.items() if k != "sweep"})
    ray_root = run_seeds(config, [0, 1, 2], tmp_path / "ray", progress=False,
                         executor=make_executor("ray", address=c.address, storage=tmp_path / "ray")).path
    local_root = run_seeds(config, [0, 1, 2], tmp_path / "local", workers=2, progress=False).path
    assert pq.read_table(ray_root / "aggregate.parquet").equals(pq.read_table(local_root / "aggregate.parquet"))
