"""The one table of settings (featlib.settings): every FEATLIB_* variable, read through settings.get only, when used."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from featlib import settings
from featlib.errors import SettingError

ROOT = Path(__file__).resolve().parents[1]
BAD = {
    "FEATLIB_WORKERS": "abc",
    "FEATLIB_MAX_UPLOAD_MB": "-3",
    "FEATLIB_MAX_MODEL_MB": "nan",
    "FEATLIB_UMAP_BACKEND": "tpu",
    "FEATLIB_LIMIT_REDUCE_TSNE_POINTS": "0",
}


@pytest.mark.parametrize("row", settings.SETTINGS, ids=[row.name for row in settings.SETTINGS])
def test_every_setting_has_help_and_a_default_its_parse_accepts(row):
    assert row.name.startswith("FEATLIB_") and row.help.strip() and row.help.strip()[-1] in ".)"
    if row.default is not None:
        row.parse(str(row.default))
    assert settings.get(row.name, {}) == row.default
    assert settings.get(row.name, {row.name: "  "}) == row.default  # empty: the default


def test_the_table_names_each_setting_once_and_holds_the_tls_files():
    names = [row.name for row in settings.SETTINGS]
    assert len(names) == len(set(names))
    for name in ("FEATLIB_TLS_CA_FILE", "FEATLIB_TLS_CERT", "FEATLIB_TLS_KEY"):
        assert settings.get(name, {}) is None and "tls://" in settings.setting(name).help
        assert settings.get(name, {name: "/etc/featlib/ca.pem"}) == "/etc/featlib/ca.pem"
    with pytest.raises(KeyError, match="No such setting: 'FEATLIB_NOPE'"):
        settings.get("FEATLIB_NOPE", {})


def test_the_job_limits_have_their_settings():
    from featlib.jobs import limits

    assert set(limits.LIMITS) == set(settings.JOB_LIMITS)
    for kind in limits.LIMITS:
        for what in ("POINTS", "SECONDS", "MB"):
            settings.setting(settings.limit_setting(kind, what))


@pytest.mark.parametrize("name, raw", BAD.items())
def test_a_bad_value_is_refused_naming_the_setting_and_the_value(name, raw):
    with pytest.raises(SettingError, match=rf"^{name} must be .*; got '{re.escape(raw)}'\.$"):
        settings.get(name, {name: raw})
    assert isinstance(SettingError(""), ValueError)


def test_values_are_parsed():
    assert settings.get("FEATLIB_WORKERS", {"FEATLIB_WORKERS": " 4 "}) == 4
    assert settings.get("FEATLIB_UMAP_BACKEND", {"FEATLIB_UMAP_BACKEND": "GPU"}) == "gpu"
    assert settings.get("FEATLIB_WARM_UP", {"FEATLIB_WARM_UP": "0"}) is False
    assert settings.get("FEATLIB_WORKSPACE", {"FEATLIB_WORKSPACE": "/srv/ws"}) == Path("/srv/ws")
    assert settings.mebibytes("FEATLIB_MAX_UPLOAD_MB", environ={"FEATLIB_MAX_UPLOAD_MB": "0.5"}) == 2**19
    assert settings.mebibytes("FEATLIB_MAX_UPLOAD_MB", environ={}) == 200 * 2**20
    assert settings.mebibytes("FEATLIB_MAX_UPLOAD_MB", 3, {}) == 3 * 2**20


def test_the_engine_reads_its_settings_through_the_table():
    from featlib.jobs.engine import cluster_settings

    got = cluster_settings({"FEATLIB_WORKERS": "3", "FEATLIB_WORKER_MEMORY": "1GiB", "FEATLIB_SCHEDULER": ""})
    assert got == {"scheduler": None, "workers": 3, "memory_limit": "1GiB", "nice": 10}
    assert cluster_settings({"FEATLIB_WORKER_MEMORY": "1GiB", "FEATLIB_CLUSTER_NICE": "0"})["nice"] == 0
    with pytest.raises(SettingError, match=r"FEATLIB_WORKERS must be a whole number from 1 to 64; got '65'"):
        cluster_settings({"FEATLIB_WORKERS": "65"})


def test_a_bad_upload_limit_does_not_stop_the_import_and_is_refused_when_used():
    env = dict(os.environ, FEATLIB_MAX_UPLOAD_MB="abc")
    code = (
        "import featlib.datasets, featlib.models, featlib.share.bundle\n"
        "from featlib.errors import SettingError\n"
        "try:\n"
        "    featlib.datasets.load_npz(b'x')\n"
        "except SettingError as error:\n"
        "    print('refused:', error)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert (
        "refused: FEATLIB_MAX_UPLOAD_MB must be a positive number of megabytes (MiB), like 200; got 'abc'."
        in out.stdout
    ), out.stdout


_READ = re.compile(r"environ\.get\(|environ\[|getenv\(|\benv\.get\(|environ\.setdefault\(")


def _sources() -> list[Path]:
    return [path for path in sorted((ROOT / "featlib").rglob("*.py")) if path.name != "settings.py"] + [ROOT / "app.py"]


def test_no_module_reads_a_featlib_setting_but_through_settings_get():
    """A line that reads the environment (``os.environ.get``, ``environ[...]``, ``os.getenv``, ``env.get``) with a
    ``FEATLIB_`` name, or a constant holding one, outside featlib/settings.py fails: read it with settings.get."""
    constants = set()
    for path in _sources():
        for match in re.finditer(
            r"^([A-Z_][A-Z0-9_]*)\s*(?::[^=]*)?=\s*[(\[]?\s*f?[\"']FEATLIB_", path.read_text(), re.MULTILINE
        ):
            constants.add(match.group(1))
    assert {"WORKERS_ENV", "UPLOAD_LIMIT_ENV", "WORKSPACE_ENV"} <= constants, constants
    names = re.compile(r"FEATLIB_|\b(" + "|".join(sorted(constants)) + r")\b")
    found = []
    for path in _sources():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if _READ.search(line) and names.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not found, "FEATLIB_* settings read outside featlib.settings.get:\n" + "\n".join(found)
