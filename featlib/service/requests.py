"""What the service is asked for: a model (:class:`ModelRef`) and one result (:class:`Request`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from featlib import jobs, keys, models
from featlib.jobs.runner import Store

if TYPE_CHECKING:
    import keras

    from featlib.store import ModelRecord, Workspace


K = TypeVar("K")

LayerProgress = Callable[[str, int, int], None]
"""Called as ``progress(layer name, layers done, layers in all)``, then ``("", all, all)``."""


@dataclass(frozen=True)
class ModelRef:
    """A model as the service needs it: its fingerprint, its ``.keras`` bytes as a job input, how it reads images.

    Build one with :meth:`of_record` (a saved model) or :meth:`of_model` (a model in memory, not saved).
    """

    fingerprint: str
    input: jobs.Input
    input_scale: str = "0-1"
    id: str | None = None
    """The model's workspace id, recorded with what is stored (``None``: a model not in the workspace)."""
    output: str | None = None
    """The output read for predictions, for a model with several (its record's ``meta["output"]``)."""
    load: Callable[[], keras.Model] | None = field(default=None, compare=False, repr=False)
    """Gives the loaded Keras model, for what needs its layers' shapes (reductions, units)."""

    @classmethod
    def of_record(cls, workspace: Workspace, record: ModelRecord, loaded: keras.Model | None = None) -> ModelRef:
        """A saved model; ``loaded``: the model already loaded (else it is loaded from the workspace when needed)."""
        return cls(
            record.fingerprint,
            jobs.model_input(workspace, record),
            record.input_scale,
            record.id,
            record.meta.get("output"),
            (lambda: loaded) if loaded is not None else (lambda: workspace.load_model(record)),
        )

    @classmethod
    def of_model(
        cls,
        model: keras.Model,
        fingerprint: str | None = None,
        *,
        input_scale: str = "0-1",
        model_id: str | None = None,
        output: str | None = None,
    ) -> ModelRef:
        """A model in memory: its bytes are written for a job only when it runs (``fingerprint``: computed if unset)."""
        fp = fingerprint or models.fingerprint(model)
        return cls(
            fp,
            jobs.Input(keys.model_input_key(fp), lambda: models.model_to_bytes(model)),
            input_scale,
            model_id,
            output,
            lambda: model,
        )

    def loaded(self) -> keras.Model:
        """The Keras model.

        Raises:
            ValueError: this reference was built without a way to load the model.
        """
        if self.load is None:
            raise ValueError(f"The model {self.fingerprint} is not loaded here; build its ModelRef with of_record.")
        return self.load()


def _identity(value: Any) -> Any:
    return value


def _nothing() -> None:
    return None


@dataclass(frozen=True)
class Request:
    """One result: its key, how to find it stored, and the job that makes it.

    Attributes:
        key: the stored result's key, or the job's when it is not stored.
        spec: builds the job (raises :class:`~featlib.jobs.JobLimitError` when it asks for too much);
            called only when the result is not stored.
        inputs: builds the job's inputs (called with :attr:`spec`).
        label: what the job does, for a progress bar ("Extracting dense_1 by …").
        failure: the start of the message shown when the job fails (the app's runner).
        store: writes the job's result into the workspace in this process (``None``: not stored).
        load: the stored result, or ``None`` (``None`` always for results that are not stored).
        finish: turns the runner's result (``store``'s return value) into what is returned.
    """

    key: str
    spec: Callable[[], jobs.JobSpec]
    inputs: Callable[[], Mapping[str, Any]]
    label: str
    failure: str = ""
    store: Store | None = None
    load: Callable[[], Any] = _nothing
    finish: Callable[[Any], Any] = _identity
