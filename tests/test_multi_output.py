"""Models with several outputs (issue 12): scored and predicted from one chosen classification output.

A functional model with a shared trunk and two heads was scored from both heads flattened
together (accuracy 0.061 for a head that scores 0.95, predicted labels 0..19), and a 10-way head
beside a 1-unit head failed with "inhomogeneous shape". Now the output read is chosen (the first
with one value per class, or one named), said, kept in the model's record and used by every
later prediction. Models with one output behave as before.
"""

from __future__ import annotations

import numpy as np
import pytest
from app_testing import no_exception, page_path
from multi_output_models import heads_model, trained_two_heads

from featlib import jobs, models
from featlib.jobs import stored, tasks
from featlib.store import Workspace


@pytest.fixture(scope="module")
def two_heads(digits):
    """(model, head_a's test accuracy by model.evaluate): head_a on the labels, head_b on shuffled labels."""
    return trained_two_heads(digits)


@pytest.fixture(scope="module")
def ten_and_one(digits):
    """(model, head_a's test accuracy): a 10-way head_a and a 1-unit head_b (the label / 9)."""
    return trained_two_heads(digits, second=1)


def _upload(model, dataset, output: str | None = None, scale: str = "0-1") -> dict:
    spec = jobs.specs.upload_spec("heads.keras", "sha", dataset.fingerprint, scale, output=output)
    return jobs.run_inline(spec, {"data": models.model_to_bytes(model), "dataset": dataset})


def _x_test(digits) -> np.ndarray:
    images, _ = digits.split("test")
    return images.reshape(len(images), -1).astype("float32") / 255.0


# ----------------------------------------------------------------------------- the core: outputs, scoring, labels


def test_outputs_are_listed_with_names_and_widths(ten_and_one):
    model, _ = ten_and_one
    assert models.model_outputs(model) == [models.OutputInfo(0, "head_a", 10), models.OutputInfo(1, "head_b", 1)]
    assert models.classification_outputs(model, 10) == [models.OutputInfo(0, "head_a", 10)]
    assert models.default_output(model, 10) == 0
    assert models.describe_outputs(models.model_outputs(model)) == "head_a (10 units) and head_b (1 unit)"


def test_the_default_is_the_first_output_with_one_value_per_class():
    model = heads_model([("aux", 1), ("parity", 2), ("digit", 10), ("digit_again", 10)])
    assert models.default_output(model, 10) == 2
    assert models.default_output(model, 2) == 1
    assert [o.name for o in models.classification_outputs(model, 10)] == ["digit", "digit_again"]


def test_upload_scores_head_a_as_model_evaluate_does(two_heads, digits, workspace):
    model, evaluated = two_heads
    assert evaluated > 0.8  # the head is good; read together with head_b it scored 0.061
    output = _upload(model, digits)
    assert output["output"] == "head_a"
    assert output["outputs"] == [{"name": "head_a", "width": 10}, {"name": "head_b", "width": 10}]
    assert output["accuracy"] == pytest.approx(evaluated, abs=1e-6)
    assert output["hints"] == []
    record = stored.store_upload(
        workspace,
        output,
        name="heads",
        filename="heads.keras",
        dataset="digits",
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
    )
    assert (record.meta["output"], record.meta["outputs"]) == ("head_a", output["outputs"])
    assert record.test_accuracy == pytest.approx(evaluated, abs=1e-6)
    assert record.scored_output == "output head_a, 10-way; other outputs: head_b (10 units)"


def test_predicted_labels_come_from_the_chosen_output_and_lie_within_the_classes(two_heads, digits):
    model, _ = two_heads
    x = _x_test(digits)
    head_a = np.asarray(model.predict(x, verbose=0)[0]).argmax(axis=1)
    labels = models.predict_labels(model, x, output="head_a")
    assert np.array_equal(labels, head_a) and labels.min() >= 0 and labels.max() <= 9
    assert np.array_equal(models.predict_labels(model, x, output=0), head_a)
    data = models.model_to_bytes(model)
    predicted, confidence = tasks.predict(
        model=data, model_fp=models.fingerprint(model), dataset=digits, split="test", input_scale="0-1", output="head_a"
    )
    assert np.array_equal(predicted, head_a)
    assert confidence.shape == (len(x),) and np.all((confidence > 0) & (confidence <= 1))
    # A record saved before outputs were chosen has no meta["output"]: the default output is read.
    unnamed, _ = tasks.predict(
        model=data, model_fp=models.fingerprint(model), dataset=digits, split="test", input_scale="0-1"
    )
    assert np.array_equal(unnamed, head_a)


def test_several_outputs_without_a_choice_are_refused_naming_them(two_heads, digits):
    model, _ = two_heads
    with pytest.raises(
        models.ModelError,
        match=r"The model has 2 outputs, head_a \(10 units\) and head_b \(10 "
        r"units\): expected the output to read",
    ):
        models.predict_labels(model, _x_test(digits))
    with pytest.raises(models.ModelError, match=r"No such output: 'head_c'. The model's outputs are head_a"):
        models.predict_labels(model, _x_test(digits), output="head_c")


def test_a_10_way_and_a_1_unit_head_are_scored_and_predicted(ten_and_one, digits):
    model, evaluated = ten_and_one
    output = _upload(model, digits)
    assert output["output"] == "head_a"
    assert output["accuracy"] == pytest.approx(evaluated, abs=1e-6)
    predicted, _ = tasks.predict(
        model=models.model_to_bytes(model),
        model_fp=models.fingerprint(model),
        dataset=digits,
        split="test",
        input_scale="0-1",
        output=output["output"],
    )
    assert predicted.shape == (len(digits.y_test),) and set(np.unique(predicted)) <= set(range(10))


def test_a_model_with_no_output_that_fits_the_classes_is_refused_naming_its_outputs(digits):
    model = heads_model([("head_a", 12), ("head_b", 1)])
    with pytest.raises(models.ModelError) as refused:
        _upload(model, digits)
    assert str(refused.value) == (
        "The model has 2 outputs, head_a (12 units) and head_b (1 unit), and none can be scored on data of 10 "
        "classes: expected an output with one value per class (10 units). Score it on data with as many classes "
        "as one of its outputs, or give it a 10-unit classification output."
    )


def test_an_output_can_be_named_and_must_fit_the_classes(two_heads, ten_and_one, digits):
    model, _ = two_heads
    shuffled = _upload(model, digits, output="head_b")
    assert shuffled["output"] == "head_b" and shuffled["accuracy"] < 0.2
    assert any(h.startswith("Classes: the model has 10 outputs and the dataset 10 classes") for h in shuffled["hints"])
    with pytest.raises(
        models.ModelError,
        match=r"The output head_b \(1 unit\) cannot be scored on data of 10 classes"
        r".*the outputs that fit are head_a \(10 units\)",
    ):
        _upload(ten_and_one[0], digits, output="head_b")


def test_a_model_with_one_output_is_scored_and_stored_as_before(model, digits, workspace):
    output = _upload(model, digits)
    assert output["output"] == "activation_2" and len(output["outputs"]) == 1
    record = stored.store_upload(
        workspace,
        output,
        name="one",
        filename="one.keras",
        dataset="digits",
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
    )
    assert "output" not in record.meta and "outputs" not in record.meta and record.scored_output == ""
    assert models.evaluate_accuracy(model, models.adapt_images(digits.x_test, model), digits.y_test) == pytest.approx(
        output["accuracy"]
    )
    plain = jobs.specs.predict_spec("fp", "dfp", 10, split="test", input_scale="0-1")
    assert (plain.key, plain.params) == (
        "predict/fp/dfp/test/0-1",
        {"model_fp": "fp", "split": "test", "input_scale": "0-1"},
    )
    named = jobs.specs.predict_spec("fp", "dfp", 10, split="test", input_scale="0-1", output="head_a")
    assert named.key == "predict/fp/dfp/test/0-1/output=head_a" and named.params["output"] == "head_a"


def test_scoring_again_from_another_output_updates_the_record(two_heads, digits, workspace):
    model, evaluated = two_heads
    first = _upload(model, digits)
    record = stored.store_upload(
        workspace,
        first,
        name="heads",
        filename="heads.keras",
        dataset="digits",
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
    )
    again = jobs.run_inline(
        jobs.specs.upload_spec("heads.keras", record.fingerprint, digits.fingerprint, "0-1", output="head_b"),
        {"data": workspace.model_bytes(record), "dataset": digits},
    )
    updated = stored.store_rescored(workspace, record, again)
    assert updated.meta["output"] == "head_b" and updated.test_accuracy == pytest.approx(again["accuracy"])
    assert updated.meta["hints"] == again["hints"] and updated.meta["hints"]  # head_b is near chance
    assert updated.meta["provenance"]["parameters"]["output"] == "head_b"
    assert updated.meta["uploaded_file"] == "heads.keras" and updated.fingerprint == record.fingerprint
    assert Workspace(workspace.root).get_model(record.id).meta["output"] == "head_b"


# ----------------------------------------------------------------------------- the Model page's card


def test_the_card_says_which_output_is_scored_and_picking_another_scores_it(app, tmp_path, two_heads, digits):
    from featlib.app import state

    model, evaluated = two_heads
    workspace = Workspace(tmp_path / "ws")
    record = stored.store_upload(
        workspace,
        _upload(model, digits),
        name="heads",
        filename="heads.keras",
        dataset="digits",
        dataset_fp=digits.fingerprint,
        input_scale="0-1",
    )
    at = no_exception(app.run().switch_page(page_path("model")))
    at.session_state[state.MODEL] = record.id
    at = no_exception(at.run())
    card = " ".join(s.value for s in at.success).replace("\\", "")
    assert (
        f"accuracy {evaluated:.4f} on digits, test split, 360 images. Scored from output head_a, 10-way; other "
        "outputs: head_b (10 units)." in card
    ), card
    picker = at.selectbox(key=f"model_output/{record.id}")
    assert picker.options == ["head_a", "head_b"] and picker.value == "head_a"
    picker.set_value("head_b")
    at = no_exception(at.run())
    rescored = workspace.get_model(record.id)
    assert rescored.meta["output"] == "head_b" and rescored.test_accuracy < 0.2
    card = " ".join(s.value for s in at.success).replace("\\", "")
    assert "Scored from output head_b, 10-way; other outputs: head_a (10 units)." in card, card
    assert "This accuracy is near chance" in " ".join(w.value for w in at.warning)


def test_the_card_of_a_model_with_one_output_has_no_output_picker(app, tmp_path, model, digits):
    from featlib.app import state

    record = models.save_model(
        Workspace(tmp_path / "ws"),
        model,
        "one",
        dataset="digits",
        test_accuracy=0.9,
        meta={"dataset_fingerprint": digits.fingerprint},
    )
    at = no_exception(app.run().switch_page(page_path("model")))
    at.session_state[state.MODEL] = record.id
    at = no_exception(at.run())
    assert "Scored from" not in " ".join(s.value for s in at.success)
    assert not [s for s in at.selectbox if s.key and s.key.startswith("model_output/")]
