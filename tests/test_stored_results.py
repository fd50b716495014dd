"""Job results kept in the workspace as figures (issue 24, item 2: a later start shows them at once).

Predictions, a map's figures, CKA, prediction depth and the neighbours two representations share used to be
kept only in the memory of a cluster's job manager: a restarted server, the CLI or a notebook made them
again. They are now stored beside the maps (:meth:`featlib.store.Workspace.save_result`), read back only
into the types :mod:`featlib.jobs.codecs` names, deleted and restored with their model, and counted in the
quotas by their bytes, not as items.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from featlib import keys, models
from featlib.jobs import codecs
from featlib.jobs.runner import InlineRunner
from featlib.maps.neighbour_change import neighbour_change
from featlib.metrics import NotAvailable
from featlib.service import Service
from featlib.store import Workspace


@pytest.fixture
def saved(tmp_path, model, digits):
    ws = Workspace(tmp_path / "ws")
    record = models.save_model(ws, model, "mlp", dataset="digits", meta={"dataset_fingerprint": digits.fingerprint})
    return ws, record


def test_predictions_are_made_once_and_found_by_a_new_service(saved, digits):
    ws, record = saved
    first = InlineRunner()
    labels, probabilities = Service(ws, first).predictions(record, digits, "test")
    assert [key.split("/")[0] for key in first.ran] == ["predict"]

    again = InlineRunner()  # a restarted server: nothing in memory
    found = Service(Workspace(ws.root), again).predictions(record, digits, "test")
    assert again.ran == []
    np.testing.assert_array_equal(found[0], labels)
    np.testing.assert_array_equal(found[1], probabilities)
    assert found[0].dtype == labels.dtype and found[1].dtype == probabilities.dtype
    assert all(item.kind != "result" for item in ws.items())  # a figure of the model, not an item of its own


def test_a_maps_figures_keep_what_is_not_available(saved):
    ws, _ = saved
    rng = np.random.default_rng(0)
    reps, coords = rng.normal(size=(12, 5)).astype("float32"), rng.normal(size=(12, 2)).astype("float32")
    labels = np.array([0] * 11 + [1])  # one point of class 1: some figures cannot be computed
    made = Service(ws, InlineRunner()).scores("emb/x", reps, labels, coords, None)
    assert any(isinstance(value, NotAvailable) for value in made.values())

    again = InlineRunner()
    found = Service(ws, again).scores("emb/x", reps, labels, coords, None)
    assert again.ran == []
    assert found.keys() == made.keys()
    for name, value in made.items():
        if isinstance(value, float) and np.isnan(value):
            assert np.isnan(found[name])
        else:
            assert found[name] == value, name


def test_neighbour_change_round_trips_as_its_dataclass(saved):
    ws, _ = saved
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(40, 6)).astype("float32"), rng.normal(size=(40, 6)).astype("float32")
    indices = np.arange(40)
    made = Service(ws, InlineRunner()).neighbour_change(("rep/a", a), ("rep/b", b), indices, None, 5)
    again = InlineRunner()
    found = Service(ws, again).neighbour_change(("rep/a", a), ("rep/b", b), indices, None, 5)
    assert again.ran == []
    assert type(found) is type(made) and found.k == made.k
    for field in ("jaccard", "before", "after", "shared"):
        np.testing.assert_array_equal(getattr(found, field), getattr(made, field))


def test_a_deleted_model_takes_its_figures_to_the_trash_and_restore_brings_them_back(saved, digits):
    ws, record = saved
    Service(ws, InlineRunner()).predictions(record, digits, "test")
    ws.delete("model", record.id)
    assert Workspace(ws.root).load_result(_predict_key(record, digits)) is None
    (entry,) = ws.trash()
    ws.restore(entry.id)
    again = InlineRunner()
    Service(ws, again).predictions(ws.get_model(record.id), digits, "test")
    assert again.ran == []


def test_a_tampered_result_is_made_again_not_read(saved, digits):
    ws, record = saved
    Service(ws, InlineRunner()).predictions(record, digits, "test")
    (path,) = list((ws.root / "arrays" / "result").glob("*.npz"))
    path.write_bytes(b"not an npz file")
    again = InlineRunner()
    labels, _ = Service(ws, again).predictions(record, digits, "test")
    assert len(again.ran) == 1 and len(labels) == len(digits.y_test)


def test_figures_count_their_bytes_in_the_quota_but_not_as_items(saved, digits):
    ws, record = saved
    before = {share.maker: share for share in ws.shares()}
    Service(ws, InlineRunner(), creator="ann").predictions(record, digits, "test")
    after = {share.maker: share for share in ws.shares()}
    assert after["ann"].items == 0
    assert after["ann"].bytes >= len(digits.y_test) * (8 + 4)
    assert "ann" not in before


def test_codecs_refuse_what_they_do_not_write():
    assert codecs.encode(np.array([object()], dtype=object)) is None
    assert codecs.encode({"model": object()}) is None
    assert codecs.encode([1, 2]) is None
    with pytest.raises(ValueError, match="must be one featlib writes"):
        codecs.decode({}, {"type": "pickle"})
    with pytest.raises(ValueError, match="must be one featlib writes"):
        codecs.decode({}, {"type": "dataclass", "class": "os.system"})


def test_codecs_round_trip_every_kind_they_write():
    change = neighbour_change(np.eye(6, dtype="float32"), np.eye(6, dtype="float32")[::-1], 2)
    for result in (
        np.arange(6, dtype="int64"),
        (np.arange(3), np.ones(3, "float32")),
        {"knn_acc": 0.5, "n": 3, "notes": {"knn_acc": "k = 2"}, "silhouette": NotAvailable("silhouette", "2 classes")},
        change,
    ):
        found = codecs.decode(*codecs.encode(result))
        if isinstance(result, np.ndarray):
            np.testing.assert_array_equal(found, result)
        elif isinstance(result, tuple):
            assert all(np.array_equal(x, y) for x, y in zip(found, result, strict=True))
        elif isinstance(result, dict):
            assert found == result
        else:
            for field in dataclasses.fields(result):
                np.testing.assert_array_equal(getattr(found, field.name), getattr(result, field.name))


def _predict_key(record, digits):
    return keys.predict_key(record.fingerprint, digits.fingerprint, "test", record.input_scale, None)
