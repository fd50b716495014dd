"""Issue 26, item 4: look-alike names. A user name typed or set by cookie with a Cyrillic "а" in place of a
Latin "a" showed exactly as the name it imitated. Names are normalised (NFKC); a word mixing scripts, and a
name reading as another existing name with look-alike letters, are refused, naming the rule.
"""

from __future__ import annotations

import pytest
from app_testing import APP, TIMEOUT, no_exception
from streamlit.testing.v1 import AppTest

from featlib import names
from featlib.errors import TextError
from featlib.store import Workspace

ALICE_CYRILLIC = "\u0430lice"  # Cyrillic small a, then Latin "lice"


def _model(ws: Workspace, name: str, creator: str = "", fingerprint: str = "a" * 16):
    return ws.save_model_file(b"x", name, fingerprint=fingerprint, architecture="x", dataset="d", creator=creator)


@pytest.mark.parametrize(
    "typed, rule",
    [
        (ALICE_CYRILLIC, "must not mix scripts"),  # the example
        ("p\u0430ypal", "must not mix scripts"),  # Cyrillic а inside a Latin word
        ("\u03bfscar", "must not mix scripts"),  # Greek omicron for o
        ("\u13aalice", "must not mix scripts"),  # Cherokee A
        ("\u0412\u041e\u0425", "must not look like another one"),  # all-Cyrillic "ВОХ" reads as "BOX"
        ("alice1", "must not look like another one"),  # "1" for "l" ("alicel" exists)
        ("rnia", "must not look like another one"),  # "rn" for "m" ("mia" exists)
    ],
)
def test_a_user_name_that_imitates_another_is_refused_naming_the_rule(tmp_path, monkeypatch, typed, rule):
    from featlib.app import identity

    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    for i, user in enumerate(["alice", "BOX", "alicel", "mia"]):
        _model(ws, f"model {i}", creator=user, fingerprint=f"{i:016x}")
    with pytest.raises(TextError, match=rule) as caught:
        identity.clean_name(typed)  # what the name form and the cookie both go through
    assert typed in str(caught.value) or rule == "must not mix scripts"


def test_names_are_normalised_with_nfkc_and_one_script_names_pass(tmp_path, monkeypatch):
    from featlib.app import identity

    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    _model(ws, "m", creator="alice")
    assert identity.clean_name("\uff41\uff4c\uff49\uff43\uff45") == "alice"  # full-width: the same name, stored plain
    assert names.check_name("\ufb01le") == "file"  # the ligature fi
    for fine in ["Алиса", "Ολγα", "田中 はなこ", "김민준", "Zoë", "José Núñez", "данные.npz (npz, 10 classes)"]:
        assert names.check_name(fine) == fine


def test_a_look_alike_typed_in_the_name_form_is_refused_in_the_page(tmp_path, monkeypatch):
    """The sidebar's name form says the rule and keeps the user unnamed (a cookie goes through the same
    :func:`featlib.app.identity.clean_name`, tested above)."""
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(tmp_path / "ws"))
    ws = Workspace(tmp_path / "ws")
    _model(ws, "m", creator="alice")
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at = no_exception(at.run())
    form_input = next(t for t in at.sidebar.text_input if t.label == "Your name")
    form_input.set_value(ALICE_CYRILLIC)
    next(b for b in at.sidebar.button if b.label == "Save name").click()
    at = no_exception(at.run())
    assert any("must not mix scripts" in e.value for e in at.sidebar.error)
    assert "featlib.user_name" not in at.session_state


@pytest.mark.parametrize(
    "kind, existing, typed, rule",
    [
        ("model", "mlp-digits", "mlp-d\u0456gits", "must not mix scripts"),  # Cyrillic і
        ("model", "ABE", "\u0391\u0392\u0395", "must not look like another one"),  # all-Greek "ΑΒΕ"
        ("dataset", "my digits", "my dig\u0456ts", "must not mix scripts"),
        ("view", "Threes", "Thre\u0435s", "must not mix scripts"),
        ("model", "model-l", "model-1", "must not look like another one"),
    ],
)
def test_item_names_that_imitate_another_are_refused(tmp_path, kind, existing, typed, rule):
    import numpy as np

    from featlib.datasets import from_arrays

    ws = Workspace(tmp_path / "ws")
    if kind == "model":
        _model(ws, existing)
        other = _model(ws, "other", fingerprint="b" * 16)
        with pytest.raises(TextError, match=rule):
            _model(ws, typed, fingerprint="c" * 16)  # saved under that name
        with pytest.raises(TextError, match=rule):
            ws.rename("model", other.id, typed)  # renamed to it
        assert sorted(m.name for m in ws.list_models()) == sorted([existing, "other"])
    elif kind == "dataset":
        x = np.zeros((8, 2, 2), "uint8")
        ws.save_dataset(from_arrays(x, np.array([0, 1] * 4), existing, ("a", "b"), x, np.array([0, 1] * 4)))
        with pytest.raises(TextError, match=rule):
            ws.save_dataset(from_arrays(x + 1, np.array([0, 1] * 4), typed, ("a", "b"), x, np.array([0, 1] * 4)))
    else:
        query = {"model": "m", "dataset": "digits", "layer": "dense"}
        ws.save_view("explore", query, existing)
        with pytest.raises(TextError, match=rule):
            ws.save_view("explore", {**query, "layer": "dense_1"}, typed)


def test_a_name_equal_to_an_existing_one_is_not_a_look_alike():
    assert names.check_lookalike("alice", ["alice", "bob"]) == "alice"
    assert names.skeleton(ALICE_CYRILLIC) == names.skeleton("alice")
