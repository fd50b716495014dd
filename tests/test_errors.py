"""One error root: every exception featlib defines is a :class:`featlib.errors.FeatlibError` and a builtin, and the
CLI tells featlib's refusals (``error: …``, exit 2) from bugs (a traceback and a request to report it, exit 1)."""

from __future__ import annotations

import builtins
import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import featlib
from featlib import cli, errors
from featlib.errors import FeatlibError

SKIPPED = ("featlib.__main__", "featlib.app")
"""Not imported: ``__main__`` runs the CLI, ``featlib.app`` needs a Streamlit session (it defines no exception)."""


def _modules() -> list:
    names = [info.name for info in pkgutil.walk_packages(featlib.__path__, "featlib.")]
    return [
        importlib.import_module(name)
        for name in sorted(names)
        if not any(name == skip or name.startswith(skip + ".") for skip in SKIPPED)
    ]


def _exception_classes() -> dict[str, type]:
    """Every exception class featlib's modules define or export, by ``module.name`` where it is found."""
    found = {}
    for module in _modules():
        for name, value in vars(module).items():
            if inspect.isclass(value) and issubclass(value, BaseException) and value.__module__.startswith("featlib"):
                found[f"{module.__name__}.{name}"] = value
    return found


CLASSES = _exception_classes()
BUILTIN_EXCEPTIONS = {
    value for value in vars(builtins).values() if inspect.isclass(value) and issubclass(value, BaseException)
} - {BaseException, Exception}


def test_the_walk_finds_the_exceptions_of_every_module():
    assert len(CLASSES) >= 30, sorted(CLASSES)
    for where in (
        "featlib.models.ModelError",
        "featlib.models.nonfinite.NonFiniteError",
        "featlib.store.WorkspaceError",
        "featlib.store.saved_views.SavedViewError",
        "featlib.jobs.JobCancelled",
        "featlib.maps.gpu.BackendError",
        "featlib.share.bundle.AlreadyImportedError",
        "featlib.datasets.DatasetUnavailableError",
    ):
        assert where in CLASSES, where


@pytest.mark.parametrize("where", sorted(CLASSES))
def test_every_featlib_exception_is_a_featlib_error_and_a_builtin(where):
    cls = CLASSES[where]
    assert issubclass(cls, FeatlibError), f"{where} does not derive from FeatlibError: {cls.__mro__}"
    if cls is not FeatlibError:
        assert set(cls.__mro__) & BUILTIN_EXCEPTIONS, f"{where} derives from no builtin exception: {cls.__mro__}"


@pytest.mark.parametrize("where", sorted(CLASSES))
def test_every_featlib_exception_is_defined_in_featlib_errors_with_a_one_line_summary(where):
    cls = CLASSES[where]
    assert cls.__module__ == "featlib.errors", f"{where} is defined in {cls.__module__}, not featlib.errors"
    assert getattr(errors, cls.__name__) is cls
    summary = (cls.__doc__ or "").strip().splitlines()
    assert summary and summary[0].strip(), f"{where} has no docstring"
    assert len(summary) == 1 or not summary[1].strip(), f"{where}'s docstring does not open with a one-line summary"


def test_featlib_errors_imports_nothing_from_featlib():
    import ast

    tree = ast.parse(inspect.getsource(errors))
    imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    imported += [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    assert imported == ["__future__"], imported


@pytest.mark.parametrize(
    "child, parents",
    [
        ("ModelError", (ValueError,)),
        ("InputMismatchError", ("ModelError", ValueError)),
        ("NonFiniteError", ("ModelError", ValueError)),
        ("ReducerError", (ValueError,)),
        ("BackendError", ("ReducerError", ValueError)),
        ("WorkspaceError", (LookupError,)),
        ("SavedViewError", ("WorkspaceError", LookupError)),
        ("BundleError", (ValueError,)),
        ("AlreadyImportedError", ("BundleError", ValueError)),
        ("JobError", (RuntimeError,)),
        ("JobFailed", ("JobError", RuntimeError)),
        ("JobCancelled", ("JobError", RuntimeError)),
        ("WorkerLost", ("JobError", RuntimeError)),
        ("JobLimitError", (ValueError,)),
        ("DatasetError", (ValueError,)),
        ("DatasetUnavailableError", (RuntimeError,)),
        ("ExportError", (RuntimeError,)),
        ("SettingError", (ValueError,)),
        ("ClusterError", (OSError,)),
        ("OutputError", (OSError,)),
    ],
)
def test_the_subclass_relations_and_builtins_are_kept(child, parents):
    cls = getattr(errors, child)
    for parent in parents:
        assert issubclass(cls, getattr(errors, parent) if isinstance(parent, str) else parent), (child, parent)


def test_the_old_import_paths_name_the_same_classes():
    from featlib import datasets, models
    from featlib.jobs import JobError, spec
    from featlib.maps import embed, gpu
    from featlib.models import nonfinite
    from featlib.read import reductions
    from featlib.share import bundle, exports, views
    from featlib.store import AlreadyStoredError, WorkspaceError, records, saved_views

    assert models.ModelError is errors.ModelError and models.InputMismatchError is errors.InputMismatchError
    assert nonfinite.NonFiniteError is errors.NonFiniteError and gpu.BackendError is errors.BackendError
    assert embed.ReducerError is errors.ReducerError and reductions.ReductionError is errors.ReductionError
    assert bundle.AlreadyImportedError is errors.AlreadyImportedError and views.ViewError is errors.ViewError
    assert datasets.DatasetError is errors.DatasetError and exports.ExportError is errors.ExportError
    assert JobError is spec.JobError is errors.JobError and saved_views.SavedViewError is errors.SavedViewError
    assert WorkspaceError is records.WorkspaceError is errors.WorkspaceError
    assert AlreadyStoredError is errors.AlreadyStoredError


def test_attributes_of_the_errors_that_carry_them():
    failed = errors.JobFailed("it broke", cause=KeyError("x"))
    assert str(failed) == "it broke" and isinstance(failed.cause, KeyError)
    assert errors.JobCancelled("stopped", over_limit=True).over_limit
    non_finite = errors.NonFiniteError("NaN", layer="dense", count=3)
    assert (non_finite.layer, non_finite.count) == ("dense", 3)
    stored = errors.AlreadyStoredError("embedding", "k", "alice", "2026-01-02T03:04:05+00:00", title="t")
    assert (stored.kind, stored.key, stored.creator) == ("embedding", "k", "alice") and "'t'" in str(stored)


def _raises(call, *args):
    with pytest.raises(FeatlibError) as caught:
        call(*args)
    return caught.value


@pytest.mark.parametrize(
    "call, args, cls",
    [
        ("featlib.names:check_name", ("  ", "model name"), "TextError"),
        ("featlib.models.presets:preset", ("fastest",), "TrainingError"),
        (
            "featlib.settings:mebibytes",
            ("FEATLIB_MAX_UPLOAD_MB", 200, {"FEATLIB_MAX_UPLOAD_MB": "lots"}),
            "SettingError",
        ),
        ("featlib.precompute:_choices", ("umap,tsnee", ("umap", "pca", "tsne"), "reducers"), "UsageError"),
        ("featlib.maps.neighbours:nearest", (np.zeros((5, 2)), [7], 2), "NeighbourError"),
        ("featlib.maps.embed:stratified_sample", (np.arange(10) % 2, 0), "ReducerError"),
    ],
)
def test_refusals_that_were_bare_builtins_are_featlib_errors_and_still_the_builtin(call, args, cls):
    module, name = call.split(":")
    error = _raises(getattr(importlib.import_module(module), name), *args)
    assert isinstance(error, getattr(errors, cls)) and isinstance(error, ValueError), type(error).__mro__


# ----------------------------------------------------------------------------- the CLI: refusals and bugs


def test_the_cli_says_a_refusal_in_one_line_and_exits_2(tmp_path, capsys):
    rc = cli.main(["--workspace", str(tmp_path / "ws"), "layers", "nomodel"])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "error: No such model: nomodel" in err
    assert "Traceback" not in err and cli.BUG_LINE not in err


def test_the_cli_says_a_bad_option_in_one_line_and_exits_2(tmp_path, capsys):
    rc = cli.main(["--workspace", str(tmp_path / "ws"), "metrics", "nomodel", "--sample", "0"])
    err = capsys.readouterr().err
    assert rc == 2 and "error: --sample must be at least 1; got 0" in err, err
    assert "Traceback" not in err


def test_the_cli_reports_an_internal_error_as_a_bug_with_its_traceback_and_exits_1(tmp_path, capsys, monkeypatch):
    from featlib.store import Workspace

    def broken(self):
        raise ValueError("operands could not be broadcast together with shapes (3,) (4,)")

    monkeypatch.setattr(Workspace, "items", broken)
    rc = cli.main(["--workspace", str(tmp_path / "ws"), "ls"])
    err = capsys.readouterr().err
    assert rc == 1, err
    assert "Traceback (most recent call last):" in err and "in broken" in err
    assert "ValueError: operands could not be broadcast together with shapes (3,) (4,)" in err
    assert err.rstrip().endswith(cli.BUG_LINE)
    assert "this is a bug in featlib" in cli.BUG_LINE.lower() and "report it with the traceback" in cli.BUG_LINE
    assert "error:" not in err


def test_the_cli_lets_a_keyboard_interrupt_through(tmp_path, monkeypatch):
    from featlib.store import Workspace

    def interrupted(self):
        raise KeyboardInterrupt

    monkeypatch.setattr(Workspace, "items", interrupted)
    with pytest.raises(KeyboardInterrupt):
        cli.main(["--workspace", str(tmp_path / "ws"), "ls"])


def test_an_out_file_that_cannot_be_written_is_a_refusal_with_the_os_message(tmp_path):
    path = tmp_path / "no-such-folder" / "x.npy"
    with pytest.raises(errors.OutputError) as caught:
        with cli._writing(str(path)):
            np.save(path, np.zeros(2))
    assert isinstance(caught.value, OSError) and caught.value.errno == 2
    assert str(caught.value) == f"[Errno 2] No such file or directory: {str(path)!r}"
