"""The CLI's tables keep their columns whatever the names: long layer names and types, wide characters, control
characters (issue 23, item 7)."""

from __future__ import annotations

import unicodedata

from featlib.cli import main
from featlib.cli.commands import Column, table_lines
from featlib.store import Workspace


def cells(text: str) -> int:
    """The terminal cells ``text`` takes (a wide character two, a combining mark none)."""
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def starts(line: str, texts: list[str]) -> list[int]:
    """The terminal column at which each of ``texts`` starts in ``line``, searched left to right."""
    found, at = [], 0
    for text in texts:
        at = line.index(text, at)
        found.append(cells(line[:at]))
        at += len(text)
    return found


def test_table_lines_grow_each_column_to_its_longest_cell():
    columns = (Column("#", ">", 2), Column("name", "<", 4, "  "), Column("n", ">", 3), Column("note", gap="  "))
    lines = table_lines(columns, [(1, "a", 5, "x"), (12, "a_very_long_name", 1234, "y"), (3, "数字", 7, "")])
    assert lines == [
        " #  name                n  note",
        " 1  a                   5  x",
        "12  a_very_long_name 1234  y",
        " 3  数字                7",  # two wide characters take four cells; no trailing spaces
    ]


def test_table_lines_show_control_characters_escaped():
    [_, row] = table_lines((Column("name"), Column("type")), [("red\x1b[31m\nname", "Dense")])
    assert row == "red\\x1b[31m\\nname Dense" and "\x1b" not in row


def long_names_model():
    """The issue's example: BatchNormalization layers (``batch_normalization_1``), and names longer still."""
    import keras
    from keras import layers as kl

    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            kl.Conv2D(4, 3),
            kl.BatchNormalization(),
            kl.BatchNormalization(),
            kl.ReLU(name="a_rather_long_activation_layer_name"),
            kl.Flatten(),
            kl.Dense(16, name="密な層"),
            kl.Dense(10, activation="softmax", name="out"),
        ]
    )


def test_layers_keeps_its_columns_on_long_layer_names(tmp_path, capsys):
    path = tmp_path / "bn.keras"
    long_names_model().save(path)
    capsys.readouterr()
    assert main(["--workspace", str(tmp_path / "ws"), "layers", str(path)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    columns = starts(header, ["name", "type", "output shape", "params", "activation"])
    names = ["conv2d", "batch_normalization", "batch_normalization_1", "a_rather_long_activation_layer_name"]
    names += ["flatten", "密な層", "out"]
    types = ["Conv2D", "BatchNormalization", "BatchNormalization", "ReLU", "Flatten", "Dense", "Dense"]
    assert len(rows) == len(names)
    for row, name, kind in zip(rows, names, types):
        name_at, type_at, shape_at = starts(row, [f"  {name}", f" {kind}", " (None"])
        assert (name_at + 2, type_at + 1, shape_at + 1) == tuple(columns[:3]), (header, row)
        shape_end = row.index(")") + 1  # the output shape's: no name here holds a parenthesis
        params = row[shape_end:].split()[0]  # right-aligned under "params"
        assert cells(row[: row.index(params, shape_end) + len(params)]) == columns[3] + len("params"), row


def test_ls_keeps_its_columns_on_long_and_wide_names(tmp_path, capsys, model):
    long_name = "模型" * 20  # 40 characters, 80 terminal cells
    from featlib import models

    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, model, long_name, dataset="digits", creator="alice")
    models.save_model(workspace, model, "short", dataset="digits", creator="bob")
    capsys.readouterr()
    assert main(["--workspace", str(workspace.root), "ls", "--kind", "model"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    columns = starts(header, ["name", "by", "created"])
    assert len(rows) >= 2
    for name, by in ((long_name, "alice"), ("short", "bob")):
        row = next(row for row in rows if f" {name} " in row)
        assert starts(row, [f" {name}", f" {by}"]) == [columns[0] - 1, columns[1] - 1], (header, row)


def test_metrics_keeps_its_columns_on_long_layer_names(tmp_path, capsys, digits):
    import keras
    from keras import layers as kl

    from featlib import models

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((64,)),
            kl.Dense(8, activation="relu", name="a_rather_long_hidden_layer_name"),
            kl.Dense(10, activation="softmax", name="out"),
        ]
    )
    workspace = Workspace(tmp_path / "ws")
    models.save_model(workspace, model, "long", dataset="digits")
    capsys.readouterr()
    args = ["--workspace", str(workspace.root), "metrics", "long", "--dataset", "digits", "--sample", "100"]
    assert main(args) == 0
    _, header, *rows = capsys.readouterr().out.splitlines()
    ends = [header.index(c) + len(c) for c in ("units", "knn_acc", "probe_acc", "silhouette")]
    for name in ("(input pixels)", "a_rather_long_hidden_layer_name", "out"):  # each figure ends under its header
        row = next(row for row in rows if row.startswith(name + " "))
        at, found = len(name), []
        for figure in row[len(name) :].split()[:4]:
            at = row.index(figure, at) + len(figure)
            found.append(at)
        assert found == ends, (header, row)
