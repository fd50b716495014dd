"""Text from people and files stays text on every page (issue 11, kind 1), checked under AppTest.

A workspace where a hostile team member named a model, a dataset upload, its
class names, two layers, a note and themselves with markdown, HTML and plotly
markup. Every page is run and every string Streamlit was handed is read back
from the element tree: where Streamlit renders markdown (text, alerts,
captions, labels, help, button and radio labels, image captions, progress
texts, expander and tab labels) no payload may appear unescaped; in plotly
figures every payload is HTML-escaped. The browser's side (no fetch, the text
visible as written) is ``tests/e2e/test_markup_safety_browser.py``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import pytest
from app_testing import APP, no_exception, page_path
from streamlit.testing.v1 import AppTest

from featlib import datasets, models
from featlib.app import resources, state
from featlib.app.text import escape
from featlib.store import Workspace

PORT = 9  # discard: nothing listens; the browser test uses a real counting server


def payloads(port: int) -> dict[str, str]:
    """What a hostile user types, by where it goes.

    Layer names are what TensorFlow runs: Keras refuses ``/`` in them, and TensorFlow's scope names allow only
    ``A-Za-z0-9_.\\/>-`` after a letter, digit or dot, so an image or a link cannot be a working layer's name;
    emphasis can (``x.__bold__``, ``y._em_``).
    """
    beacon = f"http://127.0.0.1:{port}"
    return {
        "model": f"![x]({beacon}/beacon)",
        "dataset": f"<img src={beacon}/b2>",
        "note": f"[link](javascript:alert(1)) **bold** ![n]({beacon}/note)\nsecond line",
        "user": f"![u]({beacon}/user)",
        "layer_bold": "x.__bold__",
        "layer_quote": "y._em_",
        "title": f"**map** <img src={beacon}/title>",
    }


CLASS_NAMES = (
    "![c]({beacon}/class)",
    "<img src={beacon}/class2>",
    "**bold**",
    "[link](javascript:alert(1))",
    ":red[red]",
    ":material/home:",
    "%{{x}}",
    "<b>b</b>",
    "&amp; :smile:",
    "nine",
)


def class_names(port: int) -> tuple[str, ...]:
    return tuple(name.format(beacon=f"http://127.0.0.1:{port}") for name in CLASS_NAMES)


def hostile_workspace(root, port: int) -> dict:
    """A workspace whose every name, note and maker is markup; returns what the pages should select."""
    import keras
    from keras import layers as kl

    text = payloads(port)
    workspace = Workspace(root)
    x, y = datasets.load_digits().split("train")
    keep = np.concatenate([np.flatnonzero(y == c)[:30] for c in range(10)])
    dataset = datasets.from_arrays(x[keep], y[keep], name=text["dataset"], class_names=class_names(port))
    workspace.save_dataset(dataset, creator=text["user"])
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            kl.Dense(16, activation="relu", name=text["layer_bold"]),
            kl.Dense(8, activation="relu", name=text["layer_quote"]),
            kl.Dense(10, activation="softmax", name="out"),
        ]
    )
    record = models.save_model(
        workspace,
        model,
        text["model"],
        dataset=dataset.name,
        creator=text["user"],
        meta={"dataset_fingerprint": dataset.fingerprint},
    )
    workspace.set_note("model", record.id, text["note"])
    return {
        "record": record,
        "dataset": dataset,
        "dataset_key": resources.UPLOAD_PREFIX + dataset.fingerprint,
        "layer": text["layer_bold"],
    }


# Fields Streamlit shows as plain text, never markdown: a payload there is data, as it should be.
PLAIN_FIELDS = {
    "options",
    "default",
    "value",
    "placeholder",
    "body_plain",
    "code_text",
    "spec",
    "url",
    "file_name",
    "form_id",
    "id",
    "key",
    "page_script_hash",
    "data",
    "column_config",
    "styler",
    "uuid",
    "page",
    "page_name",
    "icon",
    "raw_value",
}
PLAIN_WIDGETS = {"selectbox", "multiselect", "textinput", "textarea", "numberinput", "json", "code", "arrow"}
"""Elements whose every field but ``label`` and ``help`` is plain text (their options, values, bodies)."""
PLAIN_COMPONENTS = {"featlib_copy_button"}
"""featlib's own ``st.components.v2`` components whose data is set with ``textContent`` (never parsed as HTML or
markdown): the one-click copy button (``featlib/app/clipboard.py``). Any other component's data is checked."""


def _strings(message, path: str = ""):
    """Every string field of a protobuf message, with its dotted path."""
    for field, value in message.ListFields():
        name = f"{path}.{field.name}" if path else field.name
        values = value if isinstance(value, Sequence) and not isinstance(value, (str, bytes)) else [value]
        for item in values:
            if isinstance(item, str):
                yield name, item
            elif hasattr(item, "ListFields"):
                yield from _strings(item, name)


def raw_markup(payload: str) -> list[str]:
    """The fragments of ``payload`` that markdown would act on if they reached it unescaped."""
    fragments = [
        m.group(0)
        for m in re.finditer(r"!\[[^\]]*\]\(|\[[^\]]*\]\(|<img|<b>|\*\*\w+\*\*|\.__\w+__|\._em_|:red\[", payload)
    ]
    return fragments


def unescaped(text: str, fragment: str) -> bool:
    """Whether ``fragment`` occurs in ``text`` without the backslash escapes :func:`~featlib.app.text.escape` adds."""
    return re.search(r"(?<!\\)" + re.escape(fragment), text) is not None


def offending(at: AppTest, port: int) -> list[str]:
    """Every markdown-rendered string of the page that holds a payload's markup unescaped."""
    fragments = {f for payload in [*payloads(port).values(), *class_names(port)] for f in raw_markup(payload)}
    found = []
    for node in at._tree:
        proto = getattr(node, "proto", None)
        if proto is None or not hasattr(proto, "ListFields"):
            continue
        owner = type(proto).__name__.lower()
        if owner == "bidicomponent" and proto.component_name.rpartition(".")[2] in PLAIN_COMPONENTS:
            continue
        for name, text in _strings(proto):
            leaf = name.rsplit(".", 1)[-1]
            if leaf in PLAIN_FIELDS or (owner in PLAIN_WIDGETS and leaf not in ("label", "help")):
                continue
            hits = [f for f in fragments if unescaped(text, f)]
            if hits:
                found.append(f"{type(proto).__name__}.{name}: {text[:160]!r} holds {hits}")
    return found


def figures_escaped(at: AppTest, port: int) -> list[str]:
    """Payloads that a plotly figure of the page holds as raw HTML (``<img``, ``<b>``) or as a hover template."""
    bad = []
    for chart in at.get("plotly_chart"):
        spec = chart.proto.spec
        for raw in ("<img", "<b>b</b>", '"%{x}"', ":red[red]</"):  # a class named %{x} is a trace named %{x}
            if raw in spec:
                bad.append(f"{raw!r} in a figure: …{spec[max(0, spec.index(raw) - 60) : spec.index(raw) + 60]}…")
    return bad


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("markup") / "ws"
    return root, hostile_workspace(root, PORT)


def test_plain_escapes_every_payload_so_markdown_shows_it_as_written():
    for payload in [*payloads(PORT).values(), *class_names(PORT)]:
        escaped = escape(payload)
        assert not [f for f in raw_markup(payload) if unescaped(escaped, f)], escaped
        assert "http://" not in escaped and ":smile:" not in escaped  # no autolink, no emoji
    assert escape("a\nb") == "a  \nb"  # a line break of a note stays one
    assert escape(":material/home:") == "\\:\u2060material/home\\:"


def test_every_page_shows_names_notes_and_class_names_as_text(hostile, monkeypatch):
    root, made = hostile
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_file(APP, default_timeout=240)
    at.session_state[state.DATASET] = made["dataset_key"]
    at.session_state[state.MODEL] = made["record"].id
    at.session_state[state.LAYER] = made["layer"]
    at.session_state["featlib.user_name"] = payloads(PORT)["user"]
    at = no_exception(at.run())
    problems = []
    for page in ("model", "representations", "explore", "layers", "compare", "workspace", "jobs"):
        at = no_exception(at.switch_page(page_path(page)).run())
        if page == "representations":
            next(b for b in at.button if b.label.startswith("Compute")).click()
            at = no_exception(at.run())
        if page == "explore":
            next(b for b in at.button if b.label.startswith("Show the ")).click()  # the misclassified, captioned
            at = no_exception(at.run())
        if page == "layers":
            next(b for b in at.button if b.label == "Follow this point").click()  # "Followed points", by class name
            at = no_exception(at.run())
            assert any("Followed points" in s.value for s in at.subheader)
        if page == "compare":
            next(b for b in at.button if b.label == "Layer by layer").click()
            at = no_exception(at.run())
        if page == "workspace":
            for expander_button in [b for b in at.button if b.label == "Delete…"][:1]:
                expander_button.click()  # the confirmation dialog names the item too
                at = no_exception(at.run())
        problems += [f"{page}: {p}" for p in offending(at, PORT) + figures_escaped(at, PORT)]
    assert not problems, "\n".join(problems)


def test_the_check_finds_markup_that_reaches_markdown(hostile, monkeypatch):
    """The walker above would catch an unescaped name: a page that forgot to escape is found."""
    root, made = hostile
    monkeypatch.setenv("FEATLIB_WORKSPACE", str(root))
    at = AppTest.from_string(
        f"import streamlit as st\nst.caption({payloads(PORT)['model']!r})\n"
        f"st.button({payloads(PORT)['dataset']!r})\nst.caption({str(escape(payloads(PORT)['note']))!r})"
    )
    at = no_exception(at.run())
    found = offending(at, PORT)
    assert len(found) == 2 and found[0].startswith("Markdown.body") and found[1].startswith("Button.label"), found
