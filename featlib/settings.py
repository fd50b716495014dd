"""Every ``FEATLIB_*`` setting featlib reads, in one table: :data:`SETTINGS`, read through :func:`get` only.

Each :class:`Setting` names its environment variable, its default, one or two
sentences for the user, and ``parse``, which turns the variable's text into
the value or raises :class:`featlib.errors.SettingError` naming the setting,
its rule and what it holds. A setting is read when it is used, never at
import, so a bad value is refused where it matters and by the code that uses
it (``FEATLIB_MAX_UPLOAD_MB=abc`` does not stop ``import featlib.datasets``;
the first upload says what is wrong). ``tests/test_settings.py`` checks that
no module of featlib reads a ``FEATLIB_*`` variable any other way.

This module imports nothing from featlib but :mod:`featlib.errors`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from featlib.errors import SettingError


@dataclass(frozen=True)
class Setting:
    """One environment variable featlib reads.

    Attributes:
        name: the variable, e.g. ``"FEATLIB_WORKERS"``.
        default: the value when it is unset or empty (``None``: featlib decides, as ``help`` says).
        help: one or two sentences a user reads (units, what unset means).
        parse: the variable's text (stripped, not empty) to the value; raises
            :class:`~featlib.errors.SettingError` naming the setting, the rule and the text.
    """

    name: str
    default: Any
    help: str
    parse: Callable[[str], Any]


def _refuse(name: str, rule: str, raw: str) -> SettingError:
    return SettingError(f"{name} must be {rule}; got {raw!r}.")


def _mebibytes(name: str, like: int) -> Callable[[str], float]:
    """A positive, finite number of MiB (a float: ``0.5`` is 512 KiB)."""

    def parse(raw: str) -> float:
        try:
            mb = float(raw)
        except ValueError:
            mb = math.nan
        if not (math.isfinite(mb) and mb > 0):
            raise _refuse(name, f"a positive number of megabytes (MiB), like {like}", raw)
        return mb

    return parse


def _positive(name: str) -> Callable[[str], float]:
    """A positive, finite number."""

    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value > 0):
            raise _refuse(name, "a positive number", raw)
        return value

    return parse


def _whole(name: str, low: int, high: int) -> Callable[[str], int]:
    """A whole number from ``low`` to ``high``."""

    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise _refuse(name, f"a whole number from {low} to {high}", raw)
        return value

    return parse


def _one_of(name: str, choices: tuple[str, ...]) -> Callable[[str], str]:
    """One of ``choices``, lower-cased."""

    def parse(raw: str) -> str:
        value = raw.strip().lower()
        if value not in choices:
            raise _refuse(name, f"one of {', '.join(choices)}", raw)
        return value

    return parse


def _text(raw: str) -> str:
    """Any text (an address, a file's path): taken as written."""
    return raw


def _path(raw: str) -> Path:
    """A folder or file, ``~`` expanded."""
    return Path(raw).expanduser()


def _accounts(raw: str) -> tuple[str, ...]:
    """Comma-separated login subjects or e-mail addresses, each stripped; empty entries dropped."""
    return tuple(entry.strip() for entry in raw.split(",") if entry.strip())


def _switch(raw: str) -> bool:
    """``0`` turns it off; anything else leaves it on."""
    return raw.strip() != "0"


UMAP_BACKENDS = ("auto", "cpu", "gpu")
"""The values of ``FEATLIB_UMAP_BACKEND`` (:mod:`featlib.maps.gpu`)."""
JOB_LIMITS: dict[str, str] = {
    "train": "training a model",
    "upload": "checking an uploaded model",
    "bundle": "checking a bundle",
    "extract": "reading a layer's outputs",
    "extract_all": "reading every layer",
    "compare_methods": "comparing the two methods",
    "predict": "predicting labels",
    "reduce:umap": "a UMAP map",
    "reduce:pca": "a PCA map",
    "reduce:tsne": "a t-SNE map",
    "metrics": "scoring a map",
    "warm_up": "warming up umap-learn",
}
"""The kinds of job :mod:`featlib.jobs.limits` bounds (its ``LIMITS``), with their words; each has three settings."""


def limit_setting(kind: str, what: str) -> str:
    """The setting of job limit ``kind``'s ``what`` (``POINTS``, ``SECONDS``, ``MB``).

    Example: ``limit_setting("reduce:tsne", "POINTS")`` is ``"FEATLIB_LIMIT_REDUCE_TSNE_POINTS"``.
    """
    return f"FEATLIB_LIMIT_{kind.upper().replace(':', '_')}_{what}"


def _limit_settings() -> tuple[Setting, ...]:
    rows = []
    for kind, words in JOB_LIMITS.items():
        for what, help_text in (
            ("POINTS", f"The most points (images, rows) one job of {words} may take."),
            ("SECONDS", f"The most wall-clock seconds one job of {words} may run on a worker; it is stopped then."),
            ("MB", f"The most MiB the result of one job of {words} may hold."),
        ):
            name = limit_setting(kind, what)
            rows.append(
                Setting(name, None, f"{help_text} Unset: featlib's limit (featlib.jobs.limits).", _positive(name))
            )
    return tuple(rows)


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "FEATLIB_WORKSPACE",
        Path("workspace"),
        "The workspace folder: models, datasets, maps and saved views. Unset: ./workspace.",
        _path,
    ),
    Setting(
        "FEATLIB_SCHEDULER",
        None,
        "The address (tls://HOST:8786) of an existing Dask scheduler that runs the jobs. Unset: a local "
        "cluster of worker processes started by featlib.",
        _text,
    ),
    Setting(
        "FEATLIB_WORKERS",
        2,
        "Worker processes of the local Dask cluster, one job each at a time (1 to 64).",
        _whole("FEATLIB_WORKERS", 1, 64),
    ),
    Setting(
        "FEATLIB_WORKER_MEMORY",
        None,
        "The memory limit of each local worker in Dask's notation, e.g. 4GiB. Unset: 3/4 of this machine's "
        "memory shared among the workers.",
        _text,
    ),
    Setting(
        "FEATLIB_CLUSTER_NICE",
        10,
        "How much lower the local Dask cluster's CPU priority is than the process that starts it (os.nice, 0 to "
        "19): on a machine of few cores the server's own work (importing Keras as it starts, the pages) goes "
        "first, the jobs take the rest. 0: the same priority.",
        _whole("FEATLIB_CLUSTER_NICE", 0, 19),
    ),
    Setting(
        "FEATLIB_MAX_JOBS_PER_USER",
        16,
        "The most jobs one user may have queued or running at once on a server; a new one past it is refused "
        "(asking for a result already on its way never is). The queue takes users' jobs in turn.",
        _whole("FEATLIB_MAX_JOBS_PER_USER", 1, 10_000),
    ),
    Setting(
        "FEATLIB_TLS_CA_FILE",
        None,
        "PEM file of the certificate authority, for a remote Dask scheduler at tls://…. Unset: the local "
        "cluster makes its own credentials at start.",
        _text,
    ),
    Setting(
        "FEATLIB_TLS_CERT",
        None,
        "PEM file of this client's certificate, for a remote Dask scheduler at tls://…. Unset: the local "
        "cluster makes its own credentials at start.",
        _text,
    ),
    Setting(
        "FEATLIB_TLS_KEY",
        None,
        "PEM file of this client's private key, for a remote Dask scheduler at tls://…. Unset: the local "
        "cluster makes its own credentials at start.",
        _text,
    ),
    Setting(
        "FEATLIB_WARM_UP",
        True,
        "0: the server's workers do not compile UMAP ahead of the first map (the first map then takes longer).",
        _switch,
    ),
    Setting(
        "FEATLIB_FIRST_LOOK",
        True,
        "0: neither `featlib prepare` (which `make run` and `featlib app` run before the server starts) nor the "
        "server itself trains the first model on an empty workspace and maps it before the first visitor asks "
        "(featlib.first_look); on a workspace with models, the latest one's map is not made ahead.",
        _switch,
    ),
    Setting(
        "FEATLIB_MAX_UPLOAD_MB",
        200.0,
        "The largest file one upload may be, in MiB (datasets, models and bundles).",
        _mebibytes("FEATLIB_MAX_UPLOAD_MB", 200),
    ),
    Setting(
        "FEATLIB_MAX_MODEL_MB",
        2048.0,
        "The most MiB of weights a model may declare; raise it if the server has the memory.",
        _mebibytes("FEATLIB_MAX_MODEL_MB", 2048),
    ),
    Setting(
        "FEATLIB_QUOTA_USER_MB",
        None,
        "The most MiB the items one user made (models, uploads, representations, maps, saved views) may take "
        "together; a new item past it is refused. Unset: no quota per user.",
        _mebibytes("FEATLIB_QUOTA_USER_MB", 10240),
    ),
    Setting(
        "FEATLIB_QUOTA_USER_ITEMS",
        None,
        "The most items one user may have made; a new item past it is refused. Unset: no quota per user.",
        _whole("FEATLIB_QUOTA_USER_ITEMS", 1, 10**9),
    ),
    Setting(
        "FEATLIB_QUOTA_WORKSPACE_MB",
        51200.0,
        "The most MiB every item of the workspace may take together (50 GiB); a new item past it is refused.",
        _mebibytes("FEATLIB_QUOTA_WORKSPACE_MB", 51200),
    ),
    Setting(
        "FEATLIB_QUOTA_WORKSPACE_ITEMS",
        None,
        "The most items the workspace may hold; a new item past it is refused. Unset: no quota on items.",
        _whole("FEATLIB_QUOTA_WORKSPACE_ITEMS", 1, 10**9),
    ),
    Setting(
        "FEATLIB_MIN_FREE_MB",
        500,
        "The MiB that must stay free on the workspace's disk: a new item that would leave less is refused "
        "(0: no floor).",
        _whole("FEATLIB_MIN_FREE_MB", 0, 10**9),
    ),
    Setting(
        "FEATLIB_TRASH_DAYS",
        7,
        "The days a deleted item stays in the workspace's trash, restorable from the Workspace page, before its "
        "files are removed (0: removed at the next delete or opening of the workspace).",
        _whole("FEATLIB_TRASH_DAYS", 0, 36_500),
    ),
    Setting(
        "FEATLIB_ADMINS",
        None,
        "With st.login on: the accounts that change and restore anything, as comma-separated login subjects "
        "(the sub claim, or issuer|sub) or e-mail addresses. Everyone else logged in is a member. Unset: no admins.",
        _accounts,
    ),
    Setting(
        "FEATLIB_VIEWERS",
        None,
        "With st.login on: the accounts that may only open and export, as comma-separated login subjects or "
        "e-mail addresses (an account on both lists is an admin). Unset: no viewers.",
        _accounts,
    ),
    Setting(
        "FEATLIB_UMAP_BACKEND",
        "auto",
        "Where UMAP and t-SNE maps are made: auto (a GPU when cuML and a CUDA device are there), cpu or gpu.",
        _one_of("FEATLIB_UMAP_BACKEND", UMAP_BACKENDS),
    ),
    Setting(
        "FEATLIB_NUMBA_CACHE",
        None,
        "The folder where compiled UMAP code is kept between runs. Unset: featlib's folder in this user's cache.",
        _path,
    ),
    *_limit_settings(),
)
"""Every ``FEATLIB_*`` setting featlib reads."""

_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}


def setting(name: str) -> Setting:
    """The row of :data:`SETTINGS` called ``name``.

    Raises:
        KeyError: no such setting (the message says where they are listed).
    """
    try:
        return _BY_NAME[name]
    except KeyError:
        raise KeyError(f"No such setting: {name!r}; featlib.settings.SETTINGS lists featlib's settings.") from None


def get(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The value of setting ``name`` now: its variable parsed, or its default when unset or empty.

    Args:
        name: a setting of :data:`SETTINGS`, e.g. ``"FEATLIB_WORKERS"``.
        environ: the environment to read (``os.environ`` by default).

    Raises:
        KeyError: ``name`` is not in :data:`SETTINGS`.
        featlib.errors.SettingError: the variable holds a value outside the setting's rule; the message names the
            setting, the rule and the value.
    """
    row = setting(name)
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None or not raw.strip():
        return row.default
    return row.parse(raw.strip())


def mebibytes(name: str, default_mb: float | None = None, environ: Mapping[str, str] | None = None) -> int:
    """Setting ``name`` (a number of MiB) in bytes, at least 1; ``default_mb`` MiB (``None``: the table's) when unset.

    Args:
        name: a MiB setting of :data:`SETTINGS`, e.g. ``FEATLIB_MAX_UPLOAD_MB``.
        default_mb: MiB when it is not set; ``None``: its default in :data:`SETTINGS`.
        environ: the environment to read (``os.environ`` by default).

    Raises:
        featlib.errors.SettingError: (a ``ValueError``) the variable holds something other than a positive, finite
            number; the message names the variable, the form expected and what it holds.
    """
    mb = get(name, environ)
    raw = (os.environ if environ is None else environ).get(name)
    if default_mb is not None and (raw is None or not raw.strip()):
        mb = default_mb
    return max(1, int(mb * 1024 * 1024))
