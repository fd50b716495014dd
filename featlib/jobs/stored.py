"""Writing the results of model jobs into the workspace, in the process that submitted them.

Workers return plain outputs (a model as ``.keras`` bytes with its
fingerprint and summary); these functions list them in the workspace, so only
the submitting process writes the index. Maps and representations are stored
by :func:`featlib.pipeline.save_embedding` and
:func:`featlib.pipeline.save_representation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from featlib.store import ModelRecord, Workspace


def store_trained(
    workspace: Workspace, output: dict, *, name: str, dataset: str, meta: dict, creator: str = ""
) -> tuple[ModelRecord, list[ModelRecord]]:
    """Lists a ``train`` job's model and its checkpoints (``<name>@epoch<n>``) in ``workspace``.

    Args:
        output: what :func:`featlib.jobs.tasks.train` returned.
        name: the model's name (made unique by the workspace).
        dataset: the dataset's name, recorded with each model.
        meta: the training parameters (optimizer, learning rate, ...) recorded with each.
        creator: who asked for the training.

    Returns:
        ``(record of the trained model, records of its checkpoints by epoch)``.
    """
    history = output["history"]
    record = workspace.save_model_file(
        output["model"],
        name or "mlp",
        fingerprint=output["fingerprint"],
        architecture=output["architecture"],
        dataset=dataset,
        test_accuracy=output["test_accuracy"],
        creator=creator,
        meta={
            **meta,
            "history": history,
            "seconds": output["seconds"],
            "test_loss": output["test_loss"],
            "checkpoint_epochs": [c["epoch"] for c in output["checkpoints"]],
        },
    )
    checkpoints = []
    for checkpoint in output["checkpoints"]:
        epoch = checkpoint["epoch"]
        checkpoints.append(
            workspace.save_model_file(
                checkpoint["model"],
                f"{record.name}@epoch{epoch}",
                fingerprint=checkpoint["fingerprint"],
                architecture=output["architecture"],
                dataset=dataset,
                test_accuracy=checkpoint["test_accuracy"],
                creator=creator,
                meta={
                    **meta,
                    "history": {k: v[:epoch] for k, v in history.items()},
                    "epochs": epoch,
                    "checkpoint_of": record.id,
                    "epoch": epoch,
                },
            )
        )
    return record, checkpoints


def store_upload(
    workspace: Workspace,
    output: dict,
    *,
    name: str,
    filename: str,
    dataset: str,
    dataset_fp: str,
    input_scale: str,
    creator: str = "",
) -> ModelRecord:
    """Lists an ``upload`` job's checked model (re-saved as ``.keras``) in ``workspace``, with its accuracy.

    The record's ``test_accuracy`` is the accuracy measured; its meta keeps how it was measured and
    what was found: ``"split"`` (``"test"``, or ``"train"`` for a dataset without test images),
    ``"n_images"``, ``"other_scale_accuracy"`` (None unless the accuracy was near chance) and
    ``"hints"`` (sentences from :func:`featlib.models.diagnosis.likely_causes`, empty unless near chance).
    An output without these keys (from an older worker) is stored as measured on the test split.
    For a model with several outputs, meta also keeps ``"output"`` (the name of the output scored,
    which every later prediction reads) and ``"outputs"`` (``[{"name", "width"}]``, all of them);
    see :func:`output_meta`.
    """
    found = {
        "split": output.get("split", "test"),
        "n_images": output.get("n_images"),
        "implied_scale": output.get("implied_scale"),
        "other_scale_accuracy": output.get("other_scale_accuracy"),
        "hints": list(output.get("hints") or []),
    }
    return workspace.save_model_file(
        output["model"],
        name or "uploaded",
        fingerprint=output["fingerprint"],
        architecture=output["architecture"],
        dataset=dataset,
        test_accuracy=output["accuracy"],
        input_scale=input_scale,
        creator=creator,
        meta={"uploaded_file": filename, "dataset_fingerprint": dataset_fp, **found, **output_meta(output)},
    )


def output_meta(output: dict) -> dict:
    """``{"output": name, "outputs": [{"name", "width"}, ...]}`` of an ``upload`` job's result for a model with
    several outputs; ``{}`` for a model with one (its record stays as it always was)."""
    outputs = list(output.get("outputs") or [])
    if len(outputs) < 2:
        return {}
    return {"output": output.get("output"), "outputs": outputs}


RESCORED_KEYS = ("model", "fingerprint", "architecture", "accuracy")
"""The keys of an ``upload`` job's result that are not copied into a re-scored record's meta."""


def store_rescored(
    workspace: Workspace, record: ModelRecord, output: dict, input_scale: str | None = None
) -> ModelRecord:
    """Records an ``upload`` job that scored a saved model again: from another output, or with ``input_scale``.

    The record's ``test_accuracy`` becomes the accuracy measured and its meta takes every figure the
    job found (``"output"``, ``"hints"``, ``"other_scale_accuracy"``, ...); the model file is kept.

    Raises:
        featlib.store.WorkspaceError: the model was deleted meanwhile.
    """
    values = {k: v for k, v in output.items() if k not in RESCORED_KEYS}
    return workspace.update_model(record.id, test_accuracy=output["accuracy"], meta=values, input_scale=input_scale)
