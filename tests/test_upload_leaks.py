"""Issue 26, item 8: two smaller leaks of model uploads.

(a) The model-size check followed an HDF5 external link in an uploaded ``.h5`` before Keras refused it, and its
error told whether a host path existed, was a folder or an HDF5 file. Links are now looked at as links, never
followed, and an external link is refused with one message whatever its target.

(b) A 22 MB ``.keras`` of 200,000 members was accepted and took 52 s and 200k inodes to load, and a worker
stopped at its limit left 51,000 files in the temporary folder. Archives with more members than a Keras model
has (config.json, metadata.json, model.weights.h5, a few assets) are refused before anything is extracted, and
a load's files live in one folder per process that the next load removes once that process is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import h5py
import numpy as np
import pytest

from featlib import models
from featlib.models import budget, checks, scratch

CONFIG = json.dumps(
    {
        "class_name": "Sequential",
        "config": {
            "name": "s",
            "layers": [
                {"class_name": "InputLayer", "config": {"batch_shape": [None, 4], "name": "in"}},
                {"class_name": "Dense", "config": {"units": 2, "name": "dense"}},
            ],
        },
    }
)


@pytest.fixture(scope="module")
def real_keras(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("real") / "small.keras"
    models.build_mlp((64,), hidden=(8,), num_classes=10, seed=0).save(path)
    return path


def _targets(folder: Path) -> dict[str, str]:
    hdf5 = folder / "host.h5"
    with h5py.File(hdf5, "w") as h5:
        h5.create_dataset("x", data=np.zeros(3))
    return {
        "a text file": "/etc/passwd",
        "a folder": "/etc",
        "an HDF5 file": str(hdf5),
        "nothing": str(folder / "no" / "such.h5"),
    }


def _h5_linking(path: Path, target: str, where: str) -> Path:
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = CONFIG
        if where == "model_weights":
            h5["model_weights"] = h5py.ExternalLink(target, "/")
        else:
            group = h5.create_group("model_weights/dense")
            group["kernel"] = h5py.ExternalLink(target, "/x")
    return path


@pytest.mark.parametrize("where", ["model_weights", "model_weights/dense/kernel"])
def test_an_external_link_in_an_h5_is_refused_without_telling_anything_of_its_target(tmp_path, where):
    messages = {}
    for what, target in _targets(tmp_path).items():
        path = _h5_linking(tmp_path / "upload.h5", target, where)
        with pytest.raises(models.ModelError) as caught:
            models.load_model(path)  # the upload's path: the size check first
        messages[what] = str(caught.value)
        with pytest.raises(models.ModelError):
            budget.check_model_file(path)
    assert len(set(messages.values())) == 1, messages  # the same words whatever the target
    message = next(iter(messages.values()))
    assert "external link" in message and "refused without being followed" in message
    for leak in ("/etc", "passwd", "host.h5", "signature", "directory", "errno", "can't open", "such.h5"):
        assert leak not in message, (leak, message)


def test_an_external_link_in_a_keras_weights_file_is_refused(tmp_path, real_keras):
    weights = tmp_path / "model.weights.h5"
    with zipfile.ZipFile(real_keras) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    weights.write_bytes(members["model.weights.h5"])
    with h5py.File(weights, "r+") as h5:
        h5["layers/leak"] = h5py.ExternalLink("/etc/passwd", "/")
    path = tmp_path / "linked.keras"
    with zipfile.ZipFile(path, "w") as out:
        for name, content in members.items():
            out.writestr(name, weights.read_bytes() if name == "model.weights.h5" else content)
    with pytest.raises(models.ModelError, match="external link at '/layers/leak'") as caught:
        models.load_model(path)
    assert "passwd" not in str(caught.value)


def test_weights_kept_in_other_files_are_refused(tmp_path):
    path = tmp_path / "external-storage.h5"
    raw = tmp_path / "raw.bin"
    raw.write_bytes(bytes(32))
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = CONFIG
        h5.create_dataset("model_weights/dense/kernel", shape=(4, 2), dtype="float32", external=[(str(raw), 0, 32)])
    with pytest.raises(models.ModelError, match="data lie in other files") as caught:
        models.load_model(path)
    assert "raw.bin" not in str(caught.value)


def _many_members(path: Path, real: Path, count: int, prefix: str = "assets/") -> Path:
    with zipfile.ZipFile(real) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w") as out:
        for name, content in members.items():
            out.writestr(name, content)
        for i in range(count):
            out.writestr(f"{prefix}{i}", b"")
    return path


def test_an_archive_of_more_members_than_a_model_has_is_refused_before_extraction(tmp_path, real_keras, monkeypatch):
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_tmp))
    path = _many_members(tmp_path / "many.keras", real_keras, 20_000)  # the had 200,000
    start = time.perf_counter()
    with pytest.raises(models.ModelError, match=r"holds 20,003 members; .* Refused before anything was extracted"):
        models.load_model(path)
    assert time.perf_counter() - start < 5
    assert not [p for p in scratch_tmp.rglob("*") if p.is_file()]  # nothing extracted
    with pytest.raises(models.ModelError, match="holds 20,003 members"):
        checks.check_model_archive(path)
    over = _many_members(tmp_path / "over.keras", real_keras, checks.MAX_ASSET_MEMBERS + 1)
    with pytest.raises(models.ModelError, match=f"holds {checks.MAX_KERAS_MEMBERS + 1} members"):
        models.load_model(over)


def test_members_keras_never_writes_are_refused(tmp_path, real_keras):
    path = _many_members(tmp_path / "junk.keras", real_keras, 3, prefix="junk/")
    with pytest.raises(models.ModelError, match=r"3 member\(s\) that Keras 3 never writes \('junk/0'"):
        models.load_model(path)


def test_a_model_with_a_few_assets_still_loads(tmp_path, real_keras):
    path = _many_members(tmp_path / "assets.keras", real_keras, 2)  # what a lookup layer's vocabulary adds
    assert models.load_model(path).count_params() > 0


_KILLED_LOAD = """
import os, signal, sys
from keras.src.saving import saving_lib
from featlib.jobs import tasks

def killed(*args, **kwargs):  # the worker is stopped while Keras has the archive's members on disk
    os.kill(os.getpid(), signal.SIGKILL)

saving_lib._load_state = killed
tasks._load_upload(open(sys.argv[1], "rb").read(), "upload.keras")
"""


def test_a_load_stopped_by_a_kill_leaves_nothing_behind(tmp_path, real_keras, monkeypatch):
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    upload = _many_members(tmp_path / "with-assets.keras", real_keras, 2)  # Keras extracts every member
    env = {**os.environ, "TMPDIR": str(scratch_tmp), "CUDA_VISIBLE_DEVICES": "-1"}
    done = subprocess.run([sys.executable, "-c", _KILLED_LOAD, str(upload)], env=env, capture_output=True, timeout=300)
    assert done.returncode == -signal.SIGKILL, done.stderr.decode()[-2000:]
    left = [p for p in scratch_tmp.rglob("*") if p.is_file()]
    assert left, "the killed load wrote nothing: the test did not stop it mid-load"
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_tmp))
    models.load_model(real_keras)  # the next load, in another process, removes what the killed one left
    assert not [p for p in scratch_tmp.rglob("*") if p.is_file()], [str(p) for p in left]
    assert all(p.name.startswith(f"{scratch.PREFIX}{os.getpid()}-") for p in scratch_tmp.iterdir())


def test_the_load_folder_cannot_be_planted_by_another_account(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    planted = tmp_path / f"{scratch.PREFIX}{os.getpid()}"  # the name a guessable scheme would use
    (tmp_path / "elsewhere").mkdir()
    planted.symlink_to(tmp_path / "elsewhere")
    root = scratch.process_root()
    assert root.parent == tmp_path and root != planted and not root.is_symlink()
    assert root.stat().st_mode & 0o777 == 0o700
    with scratch.folder() as made:
        assert made.parent == root
    assert not list((tmp_path / "elsewhere").iterdir())


def test_a_finished_or_refused_load_leaves_nothing_behind(tmp_path, real_keras, monkeypatch):
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch_tmp))
    from featlib.jobs import tasks

    tasks._load_upload(_many_members(tmp_path / "a.keras", real_keras, 2).read_bytes(), "a.keras")
    with pytest.raises(models.ModelError):
        tasks._load_upload(b"not a zip", "b.keras")
    assert not [p for p in scratch_tmp.rglob("*") if p.is_file()]
