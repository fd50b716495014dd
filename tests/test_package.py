"""featlib as a package people install (issue 25, item 5).

- Every library featlib imports (at the top of a module, or lazily through :mod:`featlib.lazy`) is declared in
  ``pyproject.toml``: the runtime ones as dependencies, cuML and CuPy in the ``gpu`` extra, anywidget in the
  ``notebook`` extra.
- The pinned set ``make`` installs (``requirements*.txt``) lies within the declared ranges.
- A wheel built from the checkout, installed into a fresh virtualenv, gives the ``featlib`` command: its help,
  and a first map, run from another folder, import featlib from that virtualenv, not from the checkout. The
  fresh virtualenv finds the other packages through a ``.pth`` line naming this one's site-packages (the
  machine is offline); featlib itself is installed there from the wheel alone.
"""

from __future__ import annotations

import ast
import csv
import importlib.metadata
import os
import shutil
import subprocess
import sys
import sysconfig
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from featlib import models
from featlib.store import Workspace

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
GPU_ONLY = {"cuml", "cupy"}
"""Imported only on a GPU machine (``featlib.maps.gpu``): declared in the ``gpu`` extra."""
NOTEBOOK_ONLY = {"anywidget", "traitlets"}
"""Imported only by the notebook widget (``featlib.notebook.widget``): declared in the ``notebook`` extra."""


def declared(extra: str | None = None) -> dict[str, Requirement]:
    found = PYPROJECT["dependencies"] if extra is None else PYPROJECT["optional-dependencies"][extra]
    return {canonicalize_name(Requirement(line).name): Requirement(line) for line in found}


def imported_modules() -> set[str]:
    """The top-level names of every module featlib imports, or names to :class:`featlib.lazy.LazyModule`."""
    names = set()
    for path in (ROOT / "featlib").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "LazyModule"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                names.add(node.args[0].value.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "featlib"}


def test_every_library_featlib_imports_is_declared():
    modules = imported_modules()
    assert {"scipy", "threadpoolctl", "psutil", "PIL", "tensorflow"} <= modules  # the scan sees them
    distributions = importlib.metadata.packages_distributions()
    runtime, gpu, notebook = declared(), declared("gpu"), declared("notebook")
    missing = []
    for module in sorted(modules - GPU_ONLY):
        names = {canonicalize_name(name) for name in distributions.get(module, [])}
        if not names & (notebook.keys() if module in NOTEBOOK_ONLY else runtime.keys()):
            missing.append(f"{module} (from {sorted(names) or 'no installed distribution'})")
    assert not missing, f"imported by featlib but not in pyproject.toml's dependencies: {missing}"
    assert {"cuml-cu12"} <= gpu.keys()
    assert NOTEBOOK_ONLY <= modules and {"anywidget", "traitlets"} <= notebook.keys()
    # pyarrow is imported by pandas for featlib's Parquet export, cryptography by dask for the cluster's TLS.
    assert {"pyarrow", "cryptography"} <= runtime.keys()


def test_the_pinned_set_lies_within_the_declared_ranges():
    ranges = {**declared(), **declared("test"), **declared("bench"), **declared("notebook")}
    checked = []
    for name in ("requirements.txt", "requirements-test.txt", "requirements-bench.txt"):
        for line in (ROOT / name).read_text(encoding="utf-8").splitlines():
            line = line.split("#")[0].strip()
            if not line or line.startswith("-"):
                continue
            pin = Requirement(line)
            wanted = ranges.get(canonicalize_name(pin.name))
            if wanted is None:
                continue
            for spec in pin.specifier:
                if spec.operator == "==":
                    assert wanted.specifier.contains(spec.version, prereleases=True), (name, str(pin), str(wanted))
                    checked.append(pin.name)
    for name, wanted in declared().items():  # and what runs the tests here
        assert wanted.specifier.contains(importlib.metadata.version(name), prereleases=True), (name, str(wanted))
    assert {
        "streamlit",
        "tensorflow",
        "keras",
        "umap-learn",
        "pytest",
        "tensorboard",
        "anywidget",
        "jupyterlab",
    } <= set(checked)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built from a copy of what the package is made of, so the build leaves nothing in the checkout."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "featlib", source / "featlib", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            str(source),
        ],  # fmt: skip
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    (found,) = out.glob("featlib-*.whl")
    return found


def test_the_wheel_holds_the_library_and_the_dashboard_not_the_bench_or_tests(wheel):
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        entry_points = next(archive.read(n).decode() for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "featlib/app/dashboard.py" in names and "featlib/app/app_pages/explore.py" in names
    assert {"featlib/notebook/widget.js", "featlib/notebook/widget.css"} <= set(names)  # the widget's front end
    assert not any(name.startswith(("bench/", "tests/")) for name in names)
    assert "featlib = featlib.cli:main" in entry_points
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    assert any(line.startswith("scipy") for line in requires) and any('extra == "gpu"' in line for line in requires)
    assert any(line.startswith("anywidget") and 'extra == "notebook"' in line for line in requires)
    assert not any("==" in line for line in requires if "extra" not in line)  # ranges, not the pinned set


def test_the_installed_wheel_gives_the_command_and_a_first_map(wheel, tmp_path, model):
    venv = tmp_path / "fresh"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    # The other packages from this virtualenv (offline machine): a plain path line, so its editable featlib
    # (an import hook in its own .pth files) is not loaded there.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    # Without PYTHONPATH: a checkout on it (its featlib.egg-info) would tell pip featlib is installed already.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "FEATLIB_SCHEDULER")}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet", "--no-deps",
         "--no-index", str(wheel)],
        check=True, capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    run = lambda *args: subprocess.run(  # noqa: E731
        args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )

    where = run(str(venv / "bin" / "python"), "-c", "import featlib; print(featlib.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(site)  # the installed copy, not the checkout

    helped = run(str(venv / "bin" / "featlib"), "--help")
    assert helped.returncode == 0 and "projector" in helped.stdout and "app" in helped.stdout

    workspace = tmp_path / "ws"
    models.save_model(Workspace(workspace), model, "mlp", dataset="digits")
    out = tmp_path / "map.csv"
    mapped = run(
        str(venv / "bin" / "featlib"), "--workspace", str(workspace), "embed", "mlp", "--layer", "dense_1",
        "--dataset", "digits", "--sample", "300", "--n-epochs", "50", "--out", str(out),
    )  # fmt: skip
    assert mapped.returncode == 0, mapped.stderr[-3000:]
    with open(out, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 300 and set(rows[0]) == {"index", "x", "y", "label", "predicted"}
