"""The size limit of one uploaded file: ``$FEATLIB_MAX_UPLOAD_MB`` MiB (:func:`upload_limit_bytes`), read at each use."""

from __future__ import annotations

from featlib import settings

UPLOAD_LIMIT_ENV = "FEATLIB_MAX_UPLOAD_MB"


def upload_limit_bytes(environ: dict | None = None) -> int:
    """The size limit of one uploaded file in bytes: `$FEATLIB_MAX_UPLOAD_MB` MiB, 200 when unset.

    Read at each use (:func:`featlib.settings.get`): `MAX_UPLOAD_BYTES` (and `models.MAX_MODEL_BYTES`,
    `bundle.MAX_BUNDLE_BYTES`) is this value, read when the attribute is read, not at import.

    Raises:
        featlib.errors.SettingError: (a ``ValueError``) the variable is set to something other than a positive number.
    """
    return settings.mebibytes(UPLOAD_LIMIT_ENV, environ=environ)


def __getattr__(name: str) -> int:
    """`MAX_UPLOAD_BYTES`: :func:`upload_limit_bytes`, read now (the setting is never read at import)."""
    if name == "MAX_UPLOAD_BYTES":
        return upload_limit_bytes()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
