"""A Keras callback that saves a training's checkpoints into a featlib workspace, from the user's own ``model.fit``.

:class:`CheckpointCallback` makes a training that featlib did not run look, in the workspace, exactly like one
the Model page ran with "Save checkpoints after epoch": each chosen epoch's weights are saved as their own model
``<name>@epoch<n>`` (meta ``{"checkpoint_of": <trained model's id>, "epoch": n, "history": ...}``) and the
trained model as ``<name>``, through the workspace's public functions (:func:`featlib.models.save_model`, so
names, quotas and the audit apply). The Compare page's "This layer across checkpoints" and the training scrub
(:mod:`featlib.app.training_scrub`) then list them. Optionally it reads chosen layers of every checkpoint on
the dataset's images, stored under the keys featlib's own extraction uses
(:meth:`featlib.service.Service.representation`), so the dashboard finds them without reading them again.

The module is ``featlib.callbacks``, not ``featlib.keras``: a ``featlib/keras.py`` would read as Keras itself
wherever ``keras`` is imported next to featlib's modules (``from featlib import keras`` against
``from featlib.lazy import keras``), and the name says what it holds, callbacks. It is the one featlib module
that imports Keras when it is imported (its class derives from ``keras.callbacks.Callback``); nothing else in
featlib imports it, so ``featlib --help`` and the dashboard's start never load Keras through it.

Example (a few seconds on the bundled digits)::

    from featlib import datasets, models
    from featlib.callbacks import CheckpointCallback

    data = datasets.load_digits()
    model = models.build_mlp((64,), hidden=(16,))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    saver = CheckpointCallback("workspace", "my-mlp", data, every=1, layers=["dense"])
    model.fit(models.adapt_images(data.x_train, model), data.y_train, epochs=3, callbacks=[saver], verbose=0)
    print([r.name for r in saver.checkpoints], saver.record.name)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from featlib import datasets, models
from featlib.errors import TrainingError
from featlib.jobs.runner import InlineRunner
from featlib.lazy import keras
from featlib.read import reductions
from featlib.read.extract import METHODS
from featlib.service import ModelRef, Service
from featlib.store import ModelRecord, Workspace

TRAINED_BY = "featlib.callbacks.CheckpointCallback"
"""Recorded in each saved model's ``meta["trained_by"]``: the training ran in the user's own script."""


def _as_workspace(workspace: Workspace | str | Path) -> Workspace:
    if isinstance(workspace, Workspace):
        return workspace
    if isinstance(workspace, (str, Path)) and str(workspace):
        return Workspace(workspace)
    raise TrainingError(
        "CheckpointCallback saves into a featlib workspace: pass a featlib.store.Workspace or its folder "
        f"(a path); got {type(workspace).__name__} {workspace!r}."
    )


def _as_dataset(dataset: datasets.Dataset | str) -> datasets.Dataset:
    if isinstance(dataset, datasets.Dataset):
        return dataset
    if isinstance(dataset, str) and dataset in datasets.BUILTIN_DATASETS:
        return datasets.load_builtin(dataset)
    raise TrainingError(
        "CheckpointCallback needs the images the model is trained on, as a featlib dataset: a "
        f"featlib.datasets.Dataset (datasets.from_arrays(x, y, name) for your own arrays) or one of "
        f"{list(datasets.BUILTIN_DATASETS)}; got {type(dataset).__name__} {dataset!r}."
    )


def _epochs(every: int, epochs: Sequence[int] | None) -> tuple[int, tuple[int, ...]]:
    if epochs is not None:
        try:
            chosen = tuple(sorted({int(e) for e in epochs}))
        except (TypeError, ValueError):
            chosen = ()
        if not chosen or any(e < 1 for e in chosen) or any(isinstance(e, bool) for e in epochs):
            raise TrainingError(
                "CheckpointCallback's epochs are the 1-based epochs after which the weights are saved, whole "
                f"numbers of at least 1 (like [1, 5]); got {epochs!r}. Leave epochs unset to save every `every` epochs."
            )
        return 0, chosen
    if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
        raise TrainingError(
            f"CheckpointCallback's every is how many epochs apart checkpoints are saved, a whole number of at "
            f"least 1; got {every!r}. Use every=1 to save after each epoch."
        )
    return int(every), ()


class CheckpointCallback(keras.callbacks.Callback):
    """Saves ``model.fit``'s checkpoints (and chosen layers' outputs) into a workspace, as the Model page does.

    After each chosen epoch the weights are saved at once as ``<name>@epoch<n>`` (a copy: the training goes on
    untouched), scored on ``dataset``'s test split; when the training ends the trained model is saved as
    ``<name>`` and every checkpoint's meta gets ``checkpoint_of`` (its id). The last epoch is the trained
    model itself, so it is not saved twice. A training stopped by an error keeps the checkpoints saved so far,
    as models of their own (without ``checkpoint_of``).

    Args:
        workspace: a :class:`featlib.store.Workspace` or its folder.
        name: the trained model's name; when taken, ``name-2``, ... (with its checkpoints ``name-2@epoch1``, ...).
        dataset: the dataset the model trains on (a :class:`featlib.datasets.Dataset` or a built-in's name);
            recorded with each model, its test split scores each, its ``split`` is read for ``layers``. A
            dataset that is no built-in is saved in the workspace (once), so the dashboard can show it.
        every: save after every ``every``-th epoch (1: each).
        epochs: the 1-based epochs to save after instead (``[1, 5]``); overrides ``every``.
        layers: layers whose outputs are read, at every checkpoint and for the trained model, on every image of
            ``split``, and stored under featlib's keys (:func:`featlib.keys.representation_key`).
        split: the split those layers are read on (default: ``"test"`` when the dataset has one).
        method: how the layers are read, a key of :data:`featlib.read.extract.METHODS`.
        input_scale: how the model reads images, ``"0-1"`` or ``"0-255"`` (as :func:`featlib.models.adapt_images`).
        meta: more to record with each model (optimizer, learning rate, ...).
        creator: who made them (recorded as the models' and representations' maker).

    Attributes:
        checkpoints: the checkpoints' records, by epoch, as saved so far.
        record: the trained model's record, after the training ended (``None`` before).
        representations: ``{(model id, layer): representation key}`` of everything read.

    Raises:
        TrainingError: at construction, a bad ``workspace``, ``dataset``, ``every``, ``epochs``, ``method``,
            ``split`` or ``layers``; at the training's start, a layer the model does not have or images it
            cannot read (nothing is saved then).
        featlib.store.QuotaError, featlib.errors.TextError: from the workspace, when a model cannot be saved
            (the training stops there; what was saved stays).
    """

    def __init__(
        self,
        workspace: Workspace | str | Path,
        name: str,
        dataset: datasets.Dataset | str,
        *,
        every: int = 1,
        epochs: Sequence[int] | None = None,
        layers: Sequence[str] = (),
        split: str | None = None,
        method: str = "function",
        input_scale: str = "0-1",
        meta: dict | None = None,
        creator: str = "",
    ) -> None:
        super().__init__()
        self.workspace = _as_workspace(workspace)
        if not isinstance(name, str) or not name.strip():
            raise TrainingError(f"CheckpointCallback needs the trained model's name, a non-empty text; got {name!r}.")
        self.name = name.strip()
        self.dataset = _as_dataset(dataset)
        self.every, self.epochs = _epochs(every, epochs)
        if isinstance(layers, str) or not all(isinstance(layer, str) and layer for layer in layers):
            raise TrainingError(
                f"CheckpointCallback's layers are a list of layer names, like ['dense_1']; got {layers!r}."
            )
        self.layers = tuple(layers)
        if method not in METHODS:
            raise TrainingError(f"Unknown extraction method {method!r}: choose one of {list(METHODS)}.")
        self.method = method
        default_split = "test" if "test" in self.dataset.splits else self.dataset.splits[0]
        self.split = default_split if split is None else split
        if self.split not in self.dataset.splits:
            raise TrainingError(
                f"{self.dataset.name} has no {self.split!r} split to read the layers on; it has "
                f"{list(self.dataset.splits)}."
            )
        self.input_scale = input_scale
        self.meta = dict(meta or {})
        self.creator = creator
        self.checkpoints: list[ModelRecord] = []
        self.record: ModelRecord | None = None
        self.representations: dict[tuple[str, str], str] = {}
        self._history: dict[str, list[float]] = {}
        self._last_epoch = 0
        self._token = ""
        self._service = Service(self.workspace, InlineRunner(), creator=creator)

    # Keras's hooks ---------------------------------------------------------------------------------------------

    def on_train_begin(self, logs=None) -> None:
        """Checks the layers and the images against the model, picks the names; nothing is saved yet."""
        for layer in self.layers:
            try:
                models.check_layer(self.model, layer)
            except models.ModelError as error:
                raise TrainingError(f"CheckpointCallback cannot read layer {layer!r}: {error}") from None
        try:
            self._test = self._test_inputs()
        except models.ModelError as error:
            raise TrainingError(
                f"CheckpointCallback cannot score this model on {self.dataset.name}'s images: {error}"
            ) from None
        self._last_epoch = int((self.params or {}).get("epochs") or 0)
        self._history = {}
        self._token = uuid.uuid4().hex
        self.name = self._free_name(self.name)
        self.checkpoints, self.record, self.representations = [], None, {}
        if self.dataset.name not in datasets.BUILTIN_DATASETS:
            self.workspace.save_dataset(self.dataset, creator=self.creator)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        """Saves a copy of the weights after a chosen epoch (1-based ``epoch + 1``), then reads the layers."""
        for key, value in (logs or {}).items():
            self._history.setdefault(key, []).append(float(value))
        done = epoch + 1
        if done == self._last_epoch or not self.wanted(done):
            return
        copy = models.model_with_weights(self.model, self.model.get_weights())
        record = models.save_model(
            self.workspace,
            copy,
            f"{self.name}@epoch{done}",
            dataset=self.dataset.name,
            test_accuracy=self._accuracy(copy),
            input_scale=self.input_scale,
            creator=self.creator,
            meta={
                **self._meta(),
                "history": {k: v[:done] for k, v in self._history.items()},
                "epochs": done,
                "epoch": done,
            },
        )
        self.checkpoints.append(record)
        self._read_layers(record, copy)

    def on_train_end(self, logs=None) -> None:
        """Saves the trained model, ties each checkpoint to it (``checkpoint_of``), reads its layers."""
        epochs = [r.meta["epoch"] for r in self.checkpoints]
        self.record = models.save_model(
            self.workspace,
            self.model,
            self.name,
            dataset=self.dataset.name,
            test_accuracy=self._accuracy(self.model),
            input_scale=self.input_scale,
            creator=self.creator,
            meta={
                **self._meta(),
                "history": self._history,
                "epochs": len(next(iter(self._history.values()), [])),
                "checkpoint_epochs": epochs,
            },
        )
        self.checkpoints = [
            self.workspace.update_model(
                r.id, test_accuracy=r.test_accuracy, meta={"checkpoint_of": self.record.id, "epoch": r.meta["epoch"]}
            )
            for r in self.checkpoints
        ]
        self._read_layers(self.record, self.model)

    # Helpers ---------------------------------------------------------------------------------------------------

    def wanted(self, epoch: int) -> bool:
        """Whether the weights are saved after the 1-based ``epoch`` (the last epoch is the trained model)."""
        return epoch in self.epochs if self.epochs else epoch % self.every == 0

    def _meta(self) -> dict:
        return {
            **self.meta,
            "trained_by": TRAINED_BY,
            "training": self._token,
            "dataset_fingerprint": self.dataset.fingerprint,
            "split": "test" if self._test is not None else None,
            "n_images": None if self._test is None else int(len(self._test[1])),
        }

    def _test_inputs(self) -> tuple[np.ndarray, np.ndarray] | None:
        if "test" not in self.dataset.splits:
            return None
        images, labels = self.dataset.split("test")
        return models.adapt_images(images, self.model, self.input_scale), labels

    def _accuracy(self, model: keras.Model) -> float | None:
        if self._test is None:
            return None
        return models.evaluate_accuracy(model, *self._test)

    def _free_name(self, name: str) -> str:
        """``name``, or ``name-2``, ... when the workspace has a model of that name or its checkpoints' names."""
        taken = {r.name for r in self.workspace.list_models()}
        candidate, n = name, 1
        while candidate in taken or any(t.startswith(f"{candidate}@epoch") for t in taken):
            n += 1
            candidate = f"{name}-{n}"
        return candidate

    def _read_layers(self, record: ModelRecord, model: keras.Model) -> None:
        ref = ModelRef.of_record(self.workspace, record, loaded=model)
        for layer in self.layers:
            _, key = self._service.representation(
                ref, self.dataset, self.split, layer, self.method, reduction=reductions.AUTO
            )
            self.representations[(record.id, layer)] = key
