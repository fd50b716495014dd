"""The default layer of graphs that are not a chain (issue 23, item 4): what the classification head reads.

Each kind is a model built here, saved as a ``.keras`` file and read back through the CLI's ``layers``
command (which marks the default): a small ResNet (residual ``Add`` blocks, ``GlobalAveragePooling2D``,
one ``Dense`` head), two branches joined by ``Concatenate`` (then Dropout), and a ``Dense`` layer shared
by two views of the input whose outputs are added. Before the change each defaulted to the last hidden
weighted layer: the ResNet to the ``BatchNormalization`` before its last ``Add``, the others to a branch.
Chains (Sequential models, one trunk with two heads) keep their defaults.
"""

from __future__ import annotations

import pytest

from featlib import cli, models
from featlib.models.layer_choice import not_a_chain
from featlib.share import compare


def resnet(blocks: int = 2):
    """Conv stem, ``blocks`` residual blocks (conv-BN-ReLU-conv-BN, Add, ReLU), global average pooling, Dense 10."""
    import keras
    from keras import layers as kl

    keras.utils.set_random_seed(0)
    pixels = keras.Input((8, 8, 1))
    x = kl.ReLU(name="stem_relu")(kl.BatchNormalization(name="stem_bn")(kl.Conv2D(8, 3, padding="same")(pixels)))
    for b in range(blocks):
        y = kl.Conv2D(8, 3, padding="same", name=f"block{b}_conv1")(x)
        y = kl.ReLU(name=f"block{b}_relu1")(kl.BatchNormalization(name=f"block{b}_bn1")(y))
        y = kl.BatchNormalization(name=f"block{b}_bn2")(kl.Conv2D(8, 3, padding="same", name=f"block{b}_conv2")(y))
        x = kl.ReLU(name=f"block{b}_out")(kl.Add(name=f"block{b}_add")([x, y]))
    pooled = kl.GlobalAveragePooling2D(name="pooled")(x)
    return keras.Model(pixels, kl.Dense(10, activation="softmax", name="classifier")(pooled), name="resnet")


def concatenated():
    """Two Dense branches of the pixels joined by Concatenate, then Dropout and the Dense 10 head."""
    import keras
    from keras import layers as kl

    pixels = keras.Input((64,))
    left = kl.Dense(16, activation="relu", name="left")(pixels)
    right = kl.Dense(16, activation="relu", name="right")(pixels)
    joined = kl.Dropout(0.2, name="drop")(kl.Concatenate(name="joined")([left, right]))
    return keras.Model(pixels, kl.Dense(10, activation="softmax", name="classifier")(joined), name="concat")


def shared_layer():
    """One Dense layer called on two linear views of the pixels, the two calls added, then the Dense 10 head."""
    import keras
    from keras import layers as kl

    pixels = keras.Input((64,))
    shared = kl.Dense(16, activation="relu", name="shared")
    both = kl.Add(name="both")(
        [shared(kl.Dense(32, name="view_a")(pixels)), shared(kl.Dense(32, name="view_b")(pixels))]
    )
    return keras.Model(pixels, kl.Dense(10, activation="softmax", name="classifier")(both), name="shared")


KINDS = {
    # kind: (builder, the default before the change, the default now, what the reason says about the graph)
    "residual": (resnet, "block1_bn2", "pooled", "block0_add and block1_add merge branches"),
    "concatenate": (concatenated, "right", "joined", "joined merges branches"),
    "shared": (shared_layer, "shared", "both", "both merges branches; shared is called 2 times"),
}


def cli_default(path, workspace, capsys) -> str:
    """The layer ``python -m featlib layers <file>`` marks as the default."""
    capsys.readouterr()
    assert cli.main(["--workspace", str(workspace), "layers", str(path)]) == 0
    out = capsys.readouterr().out
    marked = [line.split()[1] for line in out.splitlines() if line.endswith("<- default")]
    assert len(marked) == 1, out
    return marked[0]


@pytest.mark.parametrize("kind", list(KINDS))
def test_the_default_of_a_graph_is_what_its_classification_head_reads(kind, tmp_path, capsys):
    build, before, after, graph = KINDS[kind]
    model = build()
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    assert cli_default(path, tmp_path / "ws", capsys) == after != before
    chosen = models.choose_default_layer(models.load_model(path))
    assert chosen.name == after
    assert chosen.reason == (
        f"{after}: what the classification head (classifier, Dense 10, softmax) reads; the model is not a chain "
        f"({graph}), so its last hidden layer {before} is not what the classifier reads."
    )


def test_a_resnet_defaults_to_its_pooled_vector_and_lists_it_among_its_hidden_layers():
    model = resnet(blocks=3)
    assert models.default_layer(model) == "pooled"
    assert "block0_add, block1_add and block2_add merge branches" in models.default_layer_reason(model)
    hidden = models.hidden_layers(model)
    assert hidden[-1] == "pooled" and "block2_bn2" in hidden  # the blocks stay listed, the pooled vector last
    assert models.hidden_layers(model, output=True)[-2:] == ["pooled", "classifier"]
    assert compare.layer_series(model)[-2:] == ["pooled", "classifier"]  # Compare opens on what the head reads


def test_chains_keep_their_defaults():
    import keras
    from keras import layers as kl

    cnn = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            kl.Conv2D(8, 3, name="conv"),
            kl.BatchNormalization(name="bn"),
            kl.ReLU(name="relu"),
            kl.GlobalAveragePooling2D(name="pool"),
            kl.Dense(10, activation="softmax", name="out"),
        ]
    )
    assert models.choose_default_layer(cnn).name == "relu"
    pixels = keras.Input((64,))
    trunk = kl.Dense(16, activation="relu", name="trunk")(pixels)
    heads = keras.Model(pixels, [kl.Dense(10, name="a")(trunk), kl.Dense(3, name="b")(trunk)])
    assert models.choose_default_layer(heads).name == "trunk" and not_a_chain(heads) == []


def test_a_head_reading_a_later_call_of_a_shared_layer_says_it_has_no_name_of_its_own():
    import keras
    from keras import layers as kl

    pixels = keras.Input((64,))
    shared = kl.Dense(64, activation="relu", name="shared")
    twice = shared(shared(kl.Dense(64, name="pre")(pixels)))
    model = keras.Model(pixels, kl.Dense(10, activation="softmax", name="classifier")(twice))
    chosen = models.choose_default_layer(model)
    assert chosen.name == "shared"  # the name reads the first call; the head reads the second
    assert chosen.reason.endswith(
        "The model is not a chain (shared is called 2 times) and what its head reads has no layer name of its own."
    )
