"""Streamlit AppTest runs of every page through the main flow, on the bundled digits."""

from __future__ import annotations

import pytest
from app_testing import APP, TIMEOUT, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib.store import Workspace


def metric(at: AppTest, label: str) -> str:
    """A figure shown as ``st.metric``, or as a row of the Explore page's figures table (figure → value)."""
    values = [m.value for m in at.metric if m.label == label]
    for table in at.table:
        frame = table.value
        if frame.index.name == "figure" and "value" in frame.columns:
            values += [str(v) for name, v in frame["value"].items() if name == label]
    assert values, f"no metric {label!r}; metrics: {[m.label for m in at.metric]}"
    return values[0]


def button(at: AppTest, label_start: str):
    matches = [b for b in at.button if b.label.startswith(label_start)]
    assert matches, f"no button {label_start!r}; buttons: {[b.label for b in at.button]}"
    return matches[0]


def train_small_model(at: AppTest) -> AppTest:
    at.switch_page(page_path("model")).run()
    no_exception(at)
    epochs = next(n for n in at.number_input if n.label == "Epochs")
    epochs.set_value(3)
    next(b for b in at.get("form_submit_button") if b.label == "Train").click()
    return no_exception(at.run())


def test_home_shows_an_empty_workspace(app):
    at = no_exception(app.run())
    assert metric(at, "models") == "0"
    assert any("no model yet" in i.value for i in at.info)


def test_pages_without_a_model_point_to_the_model_page(app):
    at = no_exception(app.run())
    for page in (page_path("representations"), page_path("explore")):
        no_exception(at.switch_page(page).run())
        assert any("No model picked yet" in i.value for i in at.info)


def test_training_in_the_page_saves_the_model_and_reports_test_accuracy(app, tmp_path):
    at = train_small_model(app.run())
    accuracy = float(metric(at, "test accuracy"))
    assert 0.0 <= accuracy <= 1.0
    records = Workspace(tmp_path / "ws").list_models()
    assert [r.name for r in records] == ["mlp-digits"]
    assert records[0].test_accuracy == pytest.approx(accuracy, abs=1e-4)
    assert len(records[0].meta["history"]["loss"]) == 3


def test_bad_hidden_sizes_are_refused_in_the_page(app, tmp_path):
    at = app.run().switch_page(page_path("model")).run()
    next(t for t in at.text_input if t.label == "Hidden layer sizes").set_value("128, many")
    next(b for b in at.get("form_submit_button") if b.label == "Train").click()
    at = no_exception(at.run())
    assert any("Hidden layer sizes must be whole numbers" in e.value for e in at.error)
    assert Workspace(tmp_path / "ws").list_models() == []


def test_main_flow_from_training_to_the_map(app, tmp_path):
    at = train_small_model(app.run())

    at = no_exception(at.switch_page(page_path("representations")).run())
    assert at.selectbox[0].value == "dense_1"  # the last hidden layer before the output
    button(at, "Compute dense_1").click()
    at = no_exception(at.run())
    assert any("1,437 × 64 outputs" in s.value for s in at.success)
    button(at, "Check both methods").click()
    at = no_exception(at.run())
    assert metric(at, "verdict") == "agree"
    assert float(metric(at, "largest absolute difference")) < 1e-4

    at = no_exception(at.switch_page(page_path("explore")).run())
    assert metric(at, "points") == "1,437"
    assert 0.5 < float(metric(at, "10-NN accuracy of the map")) <= 1.0
    usage = Workspace(tmp_path / "ws").usage()
    assert (usage["representations"], usage["embeddings"]) == (1, 1)

    # The choices carried across pages; a second visit serves the map from the cache.
    at = no_exception(at.switch_page(page_path("explore")).run())
    assert Workspace(tmp_path / "ws").usage()["embeddings"] == 1


def test_offline_mnist_says_so_and_offers_the_digits(app):
    from featlib import datasets

    try:
        datasets.load_keras_dataset("mnist")
    except datasets.DatasetUnavailableError:
        pass
    else:
        pytest.skip("MNIST is downloadable or cached here; the offline message cannot be shown")
    at = app.run().switch_page(page_path("model")).run()
    at.selectbox[0].set_value("mnist")
    at = no_exception(at.run())
    assert any("could not be downloaded" in e.value for e in at.error)
    button(at, "Use the bundled 8×8 digits").click()
    at = no_exception(at.run())
    assert at.selectbox[0].value == "digits"


def test_a_link_reopens_the_same_map_in_a_new_session(app, tmp_path):
    at = train_small_model(app.run())
    at = no_exception(at.switch_page(page_path("explore")).run())  # computes the layer and the map
    query = {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}
    assert query["layer"] == "dense_1" and query["dataset"] == "digits"
    first_accuracy = metric(at, "10-NN accuracy of the map")

    other = AppTest.from_file(APP, default_timeout=TIMEOUT)
    query["min_dist"] = "0.3"  # a view nobody has computed yet: it is computed from the link
    for key, value in query.items():
        other.query_params[key] = value
    other = no_exception(other.run())
    other = no_exception(other.switch_page(page_path("explore")).run())
    assert other.number_input(key="umap_min_dist").value == pytest.approx(0.3)
    assert metric(other, "points") == "1,437"
    assert Workspace(tmp_path / "ws").usage()["embeddings"] == 2

    query["min_dist"] = "0.1"  # the first view again: served from the cache, same figures
    again = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        again.query_params[key] = value
    again = no_exception(again.run())
    again = no_exception(again.switch_page(page_path("explore")).run())
    assert metric(again, "10-NN accuracy of the map") == first_accuracy
    assert Workspace(tmp_path / "ws").usage()["embeddings"] == 2


def test_a_link_to_a_deleted_model_says_so(app):
    for key, value in {"model": "0123456789ab", "dataset": "digits", "layer": "dense_1"}.items():
        app.query_params[key] = value
    at = no_exception(app.run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    assert any("no longer in the workspace" in e.value for e in at.error)


def test_with_an_oidc_provider_configured_the_app_asks_to_log_in(app):
    app.secrets["auth"] = {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a-long-random-string",
        "client_id": "featlib",
        "client_secret": "secret",
        "server_metadata_url": "https://idp.example.org/.well-known/openid-configuration",
    }
    at = no_exception(app.run())
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.metric  # nothing of the workspace is shown before login


def test_without_an_oidc_provider_the_app_is_open(app):
    at = no_exception(app.run())
    assert "Log in" not in [b.label for b in at.button]


def query_of(at: AppTest) -> dict[str, str]:
    return {k: v[0] if isinstance(v, list) else v for k, v in at.query_params.items()}


def test_explore_reducers_colourings_and_the_misclassified_shortcut(app, tmp_path):
    at = train_small_model(app.run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    assert query_of(at)["reducer"] == "umap"
    for label in ("10-NN accuracy of the layer", "trustworthiness", "linear probe"):
        assert 0.0 <= float(metric(at, label)) <= 1.0

    at.radio(key="map_reducer").set_value("pca")
    at = no_exception(at.run())
    assert query_of(at)["reducer"] == "pca" and "n_neighbors" not in query_of(at)
    assert metric(at, "points") == "1,437"

    at.session_state["tsne_sample"] = 300  # as if typed before: t-SNE on all 1,437 digits takes half a minute
    at.radio(key="map_reducer").set_value("tsne")
    at = no_exception(at.run())
    assert metric(at, "points") == "300"
    assert (query_of(at)["reducer"], query_of(at)["sample"], query_of(at)["perplexity"]) == ("tsne", "300", "30.0")
    assert any("Metrics scored on all of the map's 300 points" in c.value for c in at.caption)
    assert Workspace(tmp_path / "ws").usage()["embeddings"] == 3

    shortcut = button(at, "Show the ")
    wrong = int(shortcut.label.split()[2].replace(",", ""))
    assert wrong > 0, "the 3-epoch model should get some digits wrong"
    shortcut.click()
    at = no_exception(at.run())
    assert at.selectbox(key="map_colour").value == "correct"
    query = query_of(at)
    assert query["colour"] == "correct" and len(query["selection"].split(",")) == wrong
    assert any(f"{wrong:,} selected points" in s.value for s in at.subheader)
    assert any(f"Misclassified among them: {wrong:,}" in m.value for m in at.markdown)
    captions = [c.value for c in at.caption]
    if wrong > 40:  # nothing cut silently: the captioned images page through all of them
        assert f"showing misclassified images 1–40 of {wrong:,}" in captions
        at.number_input(key="wrong_page").set_value(2)
        at = no_exception(at.run())
        assert f"showing misclassified images 41–{min(80, wrong):,} of {wrong:,}" in [c.value for c in at.caption]
    else:
        assert f"showing all {wrong:,} misclassified images" in captions

    button(at, "Clear the selection").click()
    at = no_exception(at.run())
    assert "selection" not in query_of(at)


def test_a_link_reopens_a_tsne_view_with_its_colouring_and_selection(app, tmp_path):
    at = train_small_model(app.run())
    at = no_exception(at.switch_page(page_path("explore")).run())
    query = query_of(at) | {"reducer": "pca", "colour": "confidence", "selection": "5,17,400"}
    other = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in query.items():
        other.query_params[key] = value
    other = no_exception(no_exception(other.run()).switch_page(page_path("explore")).run())
    assert other.radio(key="map_reducer").value == "pca"
    assert other.selectbox(key="map_colour").value == "confidence"
    assert any("3 selected points" in s.value for s in other.subheader)
    assert query_of(other)["selection"] == "5,17,400"

    beyond = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (query | {"selection": "5,99999"}).items():
        beyond.query_params[key] = value
    beyond = no_exception(no_exception(beyond.run()).switch_page(page_path("explore")).run())
    assert any("points [99999] of the selection do not exist" in w.value for w in beyond.warning)
    assert any("1 selected points" in s.value for s in beyond.subheader)

    bad = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (query | {"colour": "rainbow"}).items():
        bad.query_params[key] = value
    bad = no_exception(no_exception(bad.run()).switch_page(page_path("explore")).run())
    assert any(
        "The link asked for colour=rainbow; expected one of label, predicted, correct, confidence, kept — using "
        "label." in w.value.replace("\\", "")
        for w in bad.warning
    )  # opened, with the value it did not use
    assert bad.selectbox(key="map_colour").value == "label"


def test_explore_reads_the_other_side_of_the_activation_in_one_click(app):
    at = train_small_model(app.run())
    at.session_state["map_reducer"] = "pca"  # as if picked before: the test is about the layer, not the map
    at = no_exception(at.switch_page(page_path("explore")).run())
    button(at, "Read activation_1 instead (after its relu)").click()
    at = no_exception(at.run())
    assert any("layer **activation\\_1**" in c.value or "layer **activation_1**" in c.value for c in at.caption)
    button(at, "Read dense_1 instead (before its relu)").click()
    at = no_exception(at.run())
    assert any("layer **dense\\_1**" in c.value or "layer **dense_1**" in c.value for c in at.caption)
