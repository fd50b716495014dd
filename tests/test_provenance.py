"""Tests for featlib.provenance: what a stored result records about how it was made."""

from __future__ import annotations

import hashlib
from importlib import metadata

import numpy as np

from featlib import pipeline, provenance
from featlib.jobs.runner import InlineRunner
from featlib.service import ModelRef, Service
from featlib.store import Workspace


def test_library_versions_come_from_package_metadata():
    versions = provenance.library_versions()
    assert versions["numpy"] == np.__version__
    assert versions["keras"] == metadata.version("keras") and versions["umap-learn"] == metadata.version("umap-learn")
    assert versions["python"].count(".") == 2


def test_describe_keeps_what_it_is_given_and_fills_the_rest():
    base = {"model_fingerprint": "m1", "versions": {"keras": "3.0.0"}}
    made = provenance.describe(
        model_fingerprint="m2", dataset_fingerprint="d1", parameters={"epochs": 2}, seed=0, base=base
    )
    assert made["model_fingerprint"] == "m1"  # the earlier record wins
    assert made["versions"] == {"keras": "3.0.0"}
    assert (made["dataset_fingerprint"], made["parameters"], made["seed"]) == ("d1", {"epochs": 2}, 0)
    assert "made_at" in made and "seed" not in provenance.describe()


def test_compare_separates_fingerprint_mismatches_from_version_differences():
    theirs = provenance.describe(model_fingerprint="aaa", dataset_fingerprint="ddd")
    ours = dict(theirs, versions=dict(theirs["versions"], keras="0.0.1"))
    assert provenance.compare(theirs, theirs) == ([], [])
    mismatches, differences = provenance.compare(theirs, dict(ours, model_fingerprint="bbb"))
    assert mismatches == ["model fingerprint: expected aaa, got bbb"]
    assert differences == [f"keras {theirs['versions']['keras']} made it; this server has 0.0.1"]


def test_hashes(tmp_path):
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 3_000_000)
    assert (
        provenance.file_sha256(path)
        == hashlib.sha256(b"x" * 3_000_000).hexdigest()
        == provenance.bytes_sha256(path.read_bytes())
    )


def test_pipeline_results_record_what_they_were_made_from(tmp_path, model, digits):
    from featlib.models import fingerprint, save_model

    ws = Workspace(tmp_path / "ws")
    record = save_model(ws, model, "m", dataset="digits", meta={"dataset_fingerprint": digits.fingerprint, "seed": 3})
    _, key = Service(ws, InlineRunner()).representation(
        ModelRef.of_record(ws, record, model), digits, "test", "dense_1", "function"
    )
    made = ws.get_item("representation", key).provenance
    assert made["model_fingerprint"] == fingerprint(model) and made["dataset_fingerprint"] == digits.fingerprint
    assert (
        made["parameters"] | {"dataset": "digits", "split": "test", "layer": "dense_1", "method": "function"}
        == made["parameters"]
    )
    assert made["versions"]["tensorflow"] == metadata.version("tensorflow")
    assert ws.get_model("m").meta["provenance"]["seed"] == 3


def test_for_key_reads_a_map_key():
    rep = pipeline.representation_key("mfp", "dfp", "train", "dense_1", "submodel", "0-1")
    made = provenance.for_key(f"emb/{rep}/sample=500/seed=0/umap-n_neighbors=15-min_dist=0.1-random_state=42")
    assert (made["model_fingerprint"], made["dataset_fingerprint"], made["seed"]) == ("mfp", "dfp", 42)
    assert (
        made["parameters"] | {"layer": "dense_1", "method": "submodel", "sample": "500", "n_neighbors": "15"}
        == made["parameters"]
    )
