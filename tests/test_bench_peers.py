"""The bench's peers and scaling table (bench.peers, bench.scaling) and its new figures, at small sizes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from bench import harness as bench  # the repository's bench/, not installed
from bench import peers
from bench import scaling as bench_scaling


def _points(n: int, d: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 4, n)
    return (rng.normal(scale=4.0, size=(4, d))[labels] + rng.normal(size=(n, d))).astype("float32"), labels


def test_sizes_are_capped_at_the_data_and_too_few_points_are_refused():
    assert bench_scaling.sizes_for(bench_scaling.DEFAULT_SIZES, 70_000) == [1_000, 5_000, 10_000, 35_000, 70_000]
    assert bench_scaling.sizes_for([5_000, 1_000, 70_000], 1_797) == [1_000, 1_797]
    with pytest.raises(ValueError, match=r"sizes must be at least 16 points .*; got \[10\]"):
        bench_scaling.sizes_for([10, 1_000], 5_000)


def test_a_peer_that_is_not_installed_is_named_with_its_install_line(monkeypatch):
    assert peers.missing("umap_learn_seeded") is None
    monkeypatch.setitem(
        peers.PEERS,
        "embedding_atlas",
        peers.Peer("embedding_atlas", "Embedding Atlas", "no_such_module_here", "pip install it"),
    )
    assert peers.missing("embedding_atlas") == (
        "Embedding Atlas: the module 'no_such_module_here' is not installed (pip install it)"
    )
    with pytest.raises(KeyError, match=r"No such peer: 'tsne'. Peers are: \["):
        peers.missing("tsne")


def test_the_scaling_run_skips_a_missing_peer_and_scores_each_map(monkeypatch):
    """featlib and one peer in fresh processes on 300 and 600 points; a peer that is not installed is skipped."""
    monkeypatch.setitem(peers.PEERS, "missing_peer", peers.Peer("missing_peer", "a peer", "no_such_module_here", "-"))
    x, labels = _points(600)
    lines = []
    result = bench_scaling.run(
        x,
        labels,
        sizes=[300, 5_000],
        peer_size=10_000,
        names=["featlib", "umap_learn_seeded", "missing_peer"],
        log=lines.append,
        repeat_points=600,
    )
    assert [row["n_points"] for row in result["scaling"]] == [300, 600]
    # a size below repeat_points (the bench's 10,000) is measured on several samples, about that many points
    assert [row["samples"] for row in result["scaling"]] == [2, 1]
    for row in result["scaling"]:
        assert row["featlib_s"] > 0 and row["umap_learn_seeded_s"] > 0
        assert row["featlib_knn_acc_2d"] > 0.9 and row["umap_learn_seeded_knn_acc_2d"] > 0.9  # 4 clusters stay apart
        assert row["missing_peer_s"] is None and row["missing_peer_knn_acc_2d"] is None
    assert result["peer_points"] == 600
    assert result["peers"]["umap_learn_seeded"]["s"] == result["scaling"][-1]["umap_learn_seeded_s"]
    assert result["peers"]["missing_peer"] == {
        "s": None,
        "knn_acc_2d": None,
        "skipped": "a peer: the module 'no_such_module_here' is not installed (-)",
    }
    assert "featlib" not in result["peers"] and result["featlib_at_peer_size"]["s"] > 0
    assert any(line.startswith("missing_peer: skipped") for line in lines)
    text = bench_scaling.format_scaling(result["scaling"], ["featlib", *result["peers"]])
    assert "skipped" in text and "600" in text


def test_the_verdict_names_each_size_where_featlib_is_slower_or_less_accurate():
    rows = [
        {"n_points": 1_000, "featlib_s": 1.0, "featlib_knn_acc_2d": 0.80, "a_s": 2.0, "a_knn_acc_2d": 0.804},
        {
            "n_points": 5_000,
            "featlib_s": 3.0,
            "featlib_knn_acc_2d": 0.76,
            "a_s": 2.5,
            "a_knn_acc_2d": 0.79,
            "b_s": None,
            "b_knn_acc_2d": None,
        },
    ]
    assert bench_scaling.verdict(rows, ["featlib", "a", "b"]) == [
        "5,000 points: a took 2.50 s, featlib 3.00 s (0.83×; the target is 1.5×)",
        "5,000 points: featlib's 10-NN accuracy 0.760 is 3.0 points below a's 0.790",
    ]
    rows[0]["a_s"] = 1.4  # faster than featlib's 1.0 s by less than the target
    assert bench_scaling.verdict(rows[:1], ["featlib", "a"]) == [
        "1,000 points: a took 1.40 s, featlib 1.00 s (1.40×; the target is 1.5×)"
    ]


@pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"),
    reason="/usr/bin/chromium is missing (Debian's package 'chromium'): kaleido renders PNGs in it",
)
def test_the_log_log_plot_is_written(tmp_path):
    rows = [
        {"n_points": n, "featlib_s": n / 1e3, "featlib_knn_acc_2d": 0.8, "a_s": n / 5e2, "a_knn_acc_2d": 0.8}
        for n in (1_000, 5_000, 10_000)
    ]
    by = bench_scaling.write_plot(rows, ["featlib", "a"], tmp_path / "scaling.png")
    assert by in ("matplotlib", "plotly")
    assert (tmp_path / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_table_prints_the_peer_and_scaling_tables_below_the_figures():
    figures = {
        "umap_points": 10_000,
        "umap_warm_s": 5.0,
        "knn_acc_2d": 0.79,
        "peers": {
            "umap_learn_seeded": {"s": 8.0, "knn_acc_2d": 0.76},
            "embedding_atlas": {"s": None, "knn_acc_2d": None, "skipped": "not installed"},
        },
        "scaling": [
            {
                "n_points": 10_000,
                "featlib_s": 5.5,
                "featlib_knn_acc_2d": 0.79,
                "umap_learn_seeded_s": 8.0,
                "umap_learn_seeded_knn_acc_2d": 0.76,
                "embedding_atlas_s": None,
                "embedding_atlas_knn_acc_2d": None,
            }
        ],
        "scaling_misses": [],
    }
    text = bench.format_table(figures)
    assert "featlib (its defaults, seeded)                                 5.50     0.790" in text
    assert "skipped: not installed" in text
    assert "8.00 s (0.760) [1.45×]" in text
    assert text.endswith("below the best peer's): met")


def test_a_fresh_cli_embed_in_a_new_workspace_is_timed():
    from featlib import datasets, models

    data = datasets.load_digits()
    model = models.build_mlp((64,), hidden=(16,), num_classes=10)
    figures = bench.embed_cli_first(model, data, "dense", 500, "digits")
    assert figures["embed_cli_first_s"] > figures["embed_cli_first_umap_s"] > 0, figures
    assert bench.embed_cli_first(model, data, "dense", 500, None)["embed_cli_first_error"].startswith(
        "the CLI cannot name the dataset"
    )


def test_requirements_bench_pins_the_light_dependencies_of_the_vector_projection():
    lines = (Path(__file__).resolve().parents[1] / "requirements-bench.txt").read_text().splitlines()
    names = {line.split("==")[0].strip().lower() for line in lines if "==" in line and not line.startswith("#")}
    assert {"narwhals", "platformdirs", "cryptography", "inquirer", "pyarrow"} <= names
    assert not any(name.startswith(("embedding-atlas", "torch", "sentence-transformers", "litellm")) for name in names)
