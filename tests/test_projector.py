"""A layer's outputs exported for TensorBoard's Embedding Projector (issue 25, item 3).

The exports are loaded with TensorBoard's own projector plugin (``tensorboard.plugins.projector``), served
through its WSGI routes as the Projector tab asks for them: the config, the tensor, the metadata and the
sprite. featlib itself does not need TensorBoard to export.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
from cli_testing import cli
from google.protobuf import text_format
from PIL import Image
from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer
from tensorboard.plugins import base_plugin
from tensorboard.plugins.projector import projector_config_pb2
from tensorboard.plugins.projector.projector_plugin import ProjectorPlugin
from werkzeug.test import Client

from featlib import models
from featlib.errors import ExportError
from featlib.jobs.runner import InlineRunner
from featlib.maps.sampling import stratified_sample
from featlib.service import Service
from featlib.share import projector
from featlib.store import Workspace


def projector_sees(logdir) -> dict:
    """What TensorBoard's projector plugin serves for ``logdir``: the config, the tensor, metadata and sprite."""
    multiplexer = plugin_event_multiplexer.EventMultiplexer()
    context = base_plugin.TBContext(
        logdir=str(logdir), data_provider=data_provider.MultiplexerDataProvider(multiplexer, str(logdir))
    )
    apps = ProjectorPlugin(context).get_plugin_apps()

    def get(route: str, **query) -> bytes:
        response = Client(apps[route]).get(route, query_string=query)
        assert response.status_code == 200, (route, response.get_data(as_text=True))
        return response.get_data()

    info = json.loads(get("/info", run="."))
    (embedding,) = info["embeddings"]
    name = embedding["tensorName"]
    rows = int(embedding["tensorShape"][0])
    units = int(embedding["tensorShape"][1])
    tensor = np.frombuffer(get("/tensor", run=".", name=name), dtype="float32").reshape(rows, units)
    metadata = get("/metadata", run=".", name=name).decode().splitlines()
    sprite = Image.open(io.BytesIO(get("/sprite_image", run=".", name=name)))
    return {"name": name, "embedding": embedding, "tensor": tensor, "metadata": metadata, "sprite": sprite}


def test_the_cli_export_opens_in_tensorboards_projector(model, digits, tmp_path):
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, model, "mlp", dataset="digits")
    out = tmp_path / "projector"
    rc, stdout, _ = cli(
        "--workspace", str(tmp_path / "ws"), "projector", "mlp", "--layer", "dense_1", "--dataset", "digits",
        "--split", "test", "--sample", "200", "--out", str(out),
    )  # fmt: skip
    assert rc == 0 and "tensorboard --logdir" in stdout

    seen = projector_sees(out)
    service = Service(workspace, InlineRunner())
    record = workspace.get_model("mlp")
    outputs, _ = service.representation(record, digits, "test", "dense_1", "function")
    predicted, _ = service.predictions(record, digits, "test")
    images, labels = digits.split("test")
    indices = stratified_sample(labels, 200)
    assert seen["name"] == f"mlp · dense_1 · {digits.name} test"
    np.testing.assert_allclose(seen["tensor"], outputs[indices], rtol=1e-5, atol=1e-6)
    assert seen["metadata"][0] == "index\tlabel\tpredicted\tcorrect"
    rows = [line.split("\t") for line in seen["metadata"][1:]]
    assert [int(row[0]) for row in rows] == indices.tolist()
    assert [row[1] for row in rows] == [digits.class_names[i] for i in labels[indices]]
    assert [row[2] for row in rows] == [digits.class_names[i] for i in predicted[indices]]
    assert [row[3] == "yes" for row in rows] == (labels[indices] == predicted[indices]).tolist()
    assert seen["embedding"]["sprite"]["singleImageDim"] == [8, 8]
    side = int(np.ceil(np.sqrt(200)))
    assert seen["sprite"].size == (side * 8, side * 8)
    grid = np.asarray(seen["sprite"])
    for i in (0, 1, side, 199):  # image i at row i // side, column i % side
        row, column = divmod(i, side)
        np.testing.assert_array_equal(grid[row * 8 : row * 8 + 8, column * 8 : column * 8 + 8], images[indices[i]])


def test_hostile_class_names_and_tensor_names_stay_text(tmp_path):
    names = ['=HYPERLINK("http://x")', "tab\there", "line\nbreak", "@SUM(1,1)", '"quoted" \\ back', "ünïcode ✓"]
    n = len(names)
    files = projector.projector_files(
        np.eye(n, dtype="float32"),
        np.zeros((n, 4, 4), "uint8"),
        np.arange(n),
        np.arange(n)[::-1],
        names,
        'mlp · "dense" \\ 1\n ✓',
    )
    projector.write_folder(tmp_path, files)
    seen = projector_sees(tmp_path)
    assert seen["name"] == 'mlp · "dense" \\ 1\n ✓'
    rows = [line.split("\t") for line in seen["metadata"][1:]]
    assert all(len(row) == 4 for row in rows)  # no tab or line break leaked into a cell
    assert rows[0][1] == '\'=HYPERLINK("http://x")' and rows[3][1] == "'@SUM(1,1)"
    assert rows[1][1] == "tab here" and rows[2][1] == "line break"
    config = projector_config_pb2.ProjectorConfig()
    text_format.Parse(files[projector.CONFIG].decode(), config)
    assert config.embeddings[0].tensor_name == 'mlp · "dense" \\ 1\n ✓'


def test_the_zip_unpacks_to_a_logdir(tmp_path):
    files = projector.projector_files(
        np.ones((3, 2)), np.zeros((3, 5, 5, 3), "uint8"), np.zeros(3, int), np.zeros(3, int), ["a"], "t"
    )
    with zipfile.ZipFile(io.BytesIO(projector.zip_bytes(files))) as archive:
        assert sorted(archive.namelist()) == sorted(f"projector/{name}" for name in files)
        archive.extractall(tmp_path)
    seen = projector_sees(tmp_path / "projector")
    assert seen["tensor"].shape == (3, 2) and seen["sprite"].mode == "RGB"


@pytest.mark.parametrize(
    ("outputs", "images", "rule"),
    [
        (np.ones((0, 2)), np.zeros((0, 4, 4), "uint8"), "1 to 100,000 images"),
        (np.full((2, 2), np.nan), np.zeros((2, 4, 4), "uint8"), "finite numbers"),
        (np.ones((2, 2, 2)), np.zeros((2, 4, 4), "uint8"), "images × units"),
        (np.ones((2, 2)), np.zeros((3, 4, 4), "uint8"), "one row per image"),
        (np.ones((2, 2)), np.zeros((2, 4, 4), "float32"), "uint8 images"),
        (np.ones((2, 2)), np.zeros((2, 4, 4, 2), "uint8"), "1 or 3 channels"),
    ],
)
def test_bad_input_is_refused_naming_the_rule(outputs, images, rule):
    n = len(outputs)
    with pytest.raises(ExportError, match=rule):
        projector.projector_files(outputs, images, np.zeros(n, int), np.zeros(n, int), ["a"], "t")


def test_a_sprite_past_the_projectors_limit_is_refused_before_it_is_drawn():
    assert projector.refusal(10_000, (28, 28)) == ""
    assert "at most 85,264 images" in projector.refusal(90_000, (28, 28))
    assert "at most 100,000" in projector.refusal(100_001, (8, 8))
    with pytest.raises(ExportError, match="Export at most 65,536"):
        projector.sprite_png(np.zeros((70_000, 32, 32), "uint8"))
