"""Shared fixtures: the bundled digits, one small trained MLP, tmp workspaces.

Everything is real: Keras models, files under tmp_path, SQLite indexes.
Expensive objects (the trained model, its inputs) are session-scoped and
must not be mutated by tests; tests that change weights build their own model.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before anything imports TensorFlow
# The servers and AppTest runs of the tests skip the workers' UMAP warm-up: on two cores it would
# compete with the tests for a minute each time; what it does is tested by test_jobs.
os.environ.setdefault("FEATLIB_WARM_UP", "0")

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
TRAIN_EPOCHS = 3


@dataclass
class Trained:
    """The session's trained 64-128-64-10 MLP and what training reported."""

    model: object
    result: object
    epochs: int
    epoch_calls: list = field(default_factory=list)


@pytest.fixture(scope="session")
def digits():
    from featlib.datasets import load_digits

    return load_digits()


@pytest.fixture(scope="session")
def trained(digits):
    from featlib import models

    model = models.build_mlp((64,), seed=0)
    x_train = models.adapt_images(digits.x_train, model)
    x_test = models.adapt_images(digits.x_test, model)
    calls: list = []
    result = models.train(
        model,
        x_train,
        digits.y_train,
        x_test,
        digits.y_test,
        optimizer="adam",
        learning_rate=0.01,
        epochs=TRAIN_EPOCHS,
        batch_size=32,
        on_epoch_end=lambda epoch, epochs, logs: calls.append((epoch, epochs, dict(logs))),
    )
    return Trained(model, result, TRAIN_EPOCHS, calls)


@pytest.fixture(scope="session")
def model(trained):
    """The trained model; read-only for tests."""
    return trained.model


@pytest.fixture(scope="session")
def x_digits(digits, model):
    """Model-ready (0-1 scaled, flat 64) digits train inputs."""
    from featlib.models import adapt_images

    return adapt_images(digits.x_train, model)


@pytest.fixture
def workspace(tmp_path):
    from featlib.store import Workspace

    return Workspace(tmp_path / "ws")


def numpy_forward(model, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every layer's output of the seed MLP computed with NumPy from its weights."""
    out: dict[str, np.ndarray] = {}
    h = np.asarray(x, dtype="float64")
    for layer in model.layers:
        if type(layer).__name__ == "Dense":
            w, b = (np.asarray(v, dtype="float64") for v in layer.get_weights())
            h = h @ w + b
        else:
            activation = layer.get_config()["activation"]
            if activation == "relu":
                h = np.maximum(h, 0.0)
            elif activation == "softmax":
                e = np.exp(h - h.max(axis=1, keepdims=True))
                h = e / e.sum(axis=1, keepdims=True)
            else:  # pragma: no cover - the seed MLP has only these
                raise AssertionError(f"unexpected activation {activation}")
        out[layer.name] = h
    return out


@pytest.fixture(scope="session")
def forward():
    """The NumPy reference forward pass, as a fixture."""
    return numpy_forward


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The dashboard under Streamlit's AppTest, on an empty workspace of its own."""
    from app_testing import APP, TIMEOUT
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    return AppTest.from_file(APP, default_timeout=TIMEOUT)
