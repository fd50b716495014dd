"""Names people give things: printable, bounded, and the rule named when refused."""

from __future__ import annotations

import pytest

from featlib.names import MAX_NAME_LENGTH, check_name
from featlib.store import Workspace


def test_a_usable_name_is_kept_as_typed_without_surrounding_space():
    assert check_name("  Fashion t10k (test split) · v2 ") == "Fashion t10k (test split) · v2"


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        ("x" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH} characters; got {MAX_NAME_LENGTH + 1:,}"),
        ("red\x1b[31mname", "printable characters only"),
        ("two\nlines", "printable characters only"),
        ("tab\there", "printable characters only"),
    ],
)
def test_an_unusable_name_is_refused_naming_the_rule_and_what_was_received(text, expected):
    with pytest.raises(ValueError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        check_name(text, "dataset name")


def test_renaming_in_the_workspace_follows_the_same_rule(tmp_path):
    from featlib.datasets import load_digits

    workspace = Workspace(tmp_path)
    fingerprint = workspace.save_dataset(load_digits())
    with pytest.raises(ValueError, match="printable"):
        workspace.rename("dataset", fingerprint, "\x1b]8;;http://evil\x07link")
    workspace.rename("dataset", fingerprint, "My digits")
    assert [row["name"] for row in workspace.list_datasets()] == ["My digits"]
