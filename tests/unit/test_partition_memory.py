"""The partition job's declared memory (rule partition_batches' mem_mb) counts what it holds:
every entry of the merged graph, and the blocks of the call that partitions the whole set."""

import numpy as np

from layerwise.graph import build
from layerwise.graph.store import load_csr, write_graph
from layerwise.submodular import hierarchy, memory
from layerwise.submodular.facility import FacilityLocation


def _graph_file(tmp_path, budget_mb):
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(6), 50))
    feats = rng.standard_normal((len(labels), 8)).astype(np.float32) + labels[:, None]
    params = {"form": "auto", "dense_budget_mb": budget_mb, "knn": 5, "kernel": "cosine"}
    path = tmp_path / f"graph{budget_mb}.h5"
    write_graph(path, labels, "auto", build.build_graph(feats, labels, "auto", budget_mb, 5, "cosine"), params, 0)
    return path


def test_estimate_counts_the_loaded_graph_and_the_first_level(tmp_path):
    mixed, knn = _graph_file(tmp_path, 0.02), _graph_file(tmp_path, 0)
    for path in (mixed, knn):
        graph = load_csr(path)
        m = hierarchy.partition(FacilityLocation.from_graph(graph), [80], 20).levels[0].num_blocks
        assert memory.first_call_blocks(graph.n, "robust-hier", 20, [80]) == m == 4
        need = len(graph.indices) * 8 + graph.n * 100 + m * graph.n * 12
        assert memory.partition_mem_mb(path, "robust-hier", 20, [80]) == int(1.2 * (need / 2**20 + 400))
    assert memory.first_call_blocks(300, "robust-flat", 20, [80]) == 15  # flat: every batch is a block
    assert memory.first_call_blocks(300, "random-s3", 20, [80]) == 0
    assert memory.partition_mem_mb(tmp_path / "missing.h5", "robust-hier", 20, [80]) == memory.FALLBACK_MB
    # sizes the job rejects (48 is not a multiple of 20): the job, not the DAG, names the key
    assert memory.partition_mem_mb(mixed, "robust-hier", 20, [48]) == memory.FALLBACK_MB
