"""Every exception featlib raises, under one root: :class:`FeatlibError`.

Each class also subclasses the builtin exception that callers caught before
the root existed (``ModelError`` is a ``ValueError``), as scikit-learn's
``sklearn/exceptions.py`` and Dask's ``distributed/exceptions.py`` do, so
``except ValueError`` keeps working while ``except FeatlibError`` tells
featlib's own refusals from bugs. This module imports nothing from featlib.
"""

from __future__ import annotations


class FeatlibError(Exception):
    """The root of every error featlib raises on purpose: bad input, a refused setting, a missing item."""


class SettingError(FeatlibError, ValueError):
    """A ``FEATLIB_*`` setting holds a value outside its rule; the message names the setting, the rule and the value."""


class ClusterError(FeatlibError, OSError):
    """The Dask cluster cannot be started or reached, or refuses featlib's credentials."""


class UsageError(FeatlibError, ValueError):
    """A command-line option outside its rule (``--sample 0``, an unknown name in ``--layers``); raised before any work."""


class OutputError(FeatlibError, OSError):
    """A file featlib was asked to write (an ``--out`` path) that cannot be written: no such folder, no permission."""


class BenchError(FeatlibError, RuntimeError):
    """``featlib bench`` cannot run here (not a checkout) or cannot measure a figure; the message says what to add."""


class TextError(FeatlibError, ValueError):
    """A name, title or note typed by a user that is refused: empty, too long, or holding control characters."""


# ----------------------------------------------------------------------------- datasets (featlib.datasets)


class DatasetError(FeatlibError, ValueError):
    """A file or array that featlib cannot use; the message says why and how to fix it."""


class DatasetUnavailableError(FeatlibError, RuntimeError):
    """A built-in dataset that cannot be loaded on this machine (e.g. no network)."""


# ----------------------------------------------------------------------------- models (featlib.models, featlib.models.nonfinite)


class ModelError(FeatlibError, ValueError):
    """A model file or model that featlib cannot use."""


class InputMismatchError(ModelError):
    """The data's images cannot be fed to the model's input."""


class NonFiniteError(ModelError):
    """A model whose weights, or a layer whose outputs, hold NaN or infinite values.

    Attributes:
        layer: the layer that cannot be read (``""`` for a whole model refused at load).
        count: how many values are not finite.
    """

    def __init__(self, message: str, layer: str = "", count: int = 0):
        super().__init__(message)
        self.layer = layer
        self.count = count


class SaliencyError(FeatlibError, ValueError):
    """A saliency map that cannot be computed: a bad image, class or method, or a model that gives no gradient."""


class TrainingError(FeatlibError, ValueError):
    """Training settings that are refused (an unknown preset, hidden layer sizes out of range); nothing is trained."""


class ExtractionError(FeatlibError, ValueError):
    """A layer's outputs that cannot be read as asked: an unknown method, or no images to read them from."""


class LayerError(FeatlibError, ValueError):
    """A question about every layer that the sample cannot answer: each layer too wide, points outside the sample."""


class ReductionError(FeatlibError, ValueError):
    """A reduction that does not exist or does not apply to the layer (pooling a layer without spatial axes)."""


# ----------------------------------------------------------------------------- maps and figures


class ReducerError(FeatlibError, ValueError):
    """A map that cannot be made: parameters outside their range, too few points for them, or non-finite values.

    The message names the rule, what was received and what to change.
    """


class BackendError(ReducerError):
    """A map asked of a backend that cannot make it here, or a setting that names no backend."""


class MetricError(FeatlibError, ValueError):
    """A figure that cannot be computed on the data given (one class only, NaN outputs, a bad sample size or distance)."""


class NeighbourError(FeatlibError, ValueError):
    """Nearest neighbours asked with an unknown metric, a bad ``k`` or query points outside the data."""


class AlignmentError(FeatlibError, ValueError):
    """Two maps that cannot be aligned (too few shared points, bad shapes)."""


class PointQueryError(FeatlibError, ValueError):
    """A search for points on a map (``label:7 confidence<0.6``) that cannot be read; the message names the term."""


class NotebookError(FeatlibError, ValueError):
    """:func:`featlib.explore` asked with inputs it cannot map (an unknown model, colouring or selection); nothing ran."""


class MissingExtraError(FeatlibError, ImportError):
    """A part of featlib whose optional packages are not installed (the notebook widget without anywidget).

    The message names the ``pip install 'featlib[...]'`` extra that brings them.
    """


# ----------------------------------------------------------------------------- views, comparisons, exports, bundles


class ViewError(FeatlibError, ValueError):
    """A link (or a saved view's query) whose query parameters do not describe a view."""


class CompareError(FeatlibError, ValueError):
    """A comparison that cannot be drawn as given (a bad link, too many panels)."""


class ExportError(FeatlibError, RuntimeError):
    """An export that cannot be made here (a missing renderer, a bad format)."""


class BundleError(FeatlibError, ValueError):
    """A bundle that cannot be imported or exported; the message says why."""


class AlreadyImportedError(BundleError):
    """The bundle's map is in the workspace already, byte for byte: nothing was stored."""


# ----------------------------------------------------------------------------- the workspace (featlib.store)


class WorkspaceError(FeatlibError, LookupError):
    """An item the workspace does not hold."""


class SavedViewError(WorkspaceError):
    """A saved view that cannot be opened: a malformed id, an id the workspace does not hold, a tampered row."""


class ModelMismatchError(WorkspaceError):
    """A link, saved view or bundle pins a model by fingerprint and the model found under its id has another one."""


class QuotaError(WorkspaceError):
    """A new item refused before it is stored: over a quota, or under the free-disk floor; nothing is written.

    It would take its maker or the workspace past a quota (``FEATLIB_QUOTA_*``), or leave the disk under
    ``FEATLIB_MIN_FREE_MB``.

    The message names the quota, the use now, the size of what was to be stored and the fix.

    Attributes:
        setting: the setting that refused it (``"FEATLIB_QUOTA_USER_MB"``, ...).
    """

    def __init__(self, message: str, setting: str = ""):
        super().__init__(message)
        self.setting = setting


class RoleError(FeatlibError, PermissionError):
    """A change refused by the roles of a server with ``st.login`` on (:mod:`featlib.store.permissions`).

    The message names the rule, the user's role and the fix (ask the item's owner or an admin;
    ``FEATLIB_ADMINS`` / ``FEATLIB_VIEWERS`` set the roles).
    """


class NameClashError(FeatlibError, ValueError):
    """A rename to a name another item of the same kind already has."""


class InUseError(FeatlibError, ValueError):
    """A delete refused because other items were made from the item."""


class AlreadyStoredError(FeatlibError, ValueError):
    """A write refused because the workspace already lists an item under that key: nothing is overwritten.

    Attributes:
        kind: the kind of the item listed (``"embedding"``, ...).
        key: its key.
        creator: who made it (``""``: nobody named).
        created: when (ISO 8601, UTC).
    """

    def __init__(self, kind: str, key: str, creator: str, created: str, title: str = ""):
        self.kind, self.key, self.creator, self.created = kind, key, creator, created
        shown = f"{title!r}, " if title else ""
        super().__init__(
            f"The workspace already holds a {kind} under the key {key!r} ({shown}made by {creator or 'nobody named'} "
            f"on {created.replace('T', ' ')[:16]} UTC); it is kept and not overwritten. Delete it first to store "
            "another one under that key."
        )


# ----------------------------------------------------------------------------- jobs (featlib.jobs)


class JobError(FeatlibError, RuntimeError):
    """A job did not give a result. ``str(error)`` is a message for the user."""


class JobFailed(JobError):
    """The job's function raised; ``cause`` holds the original exception."""

    def __init__(self, message: str, cause: BaseException | None = None):
        super().__init__(message)
        self.cause = cause


class JobCancelled(JobError):
    """The job was cancelled by a user, or stopped at its time limit (``over_limit``)."""

    def __init__(self, message: str, over_limit: bool = False):
        super().__init__(message)
        self.over_limit = over_limit


class WorkerLost(JobError):
    """The worker process running the job died (over its memory limit, or killed)."""


class JobLimitError(FeatlibError, ValueError):
    """A job asks for more than its kind allows (points, bytes); raised before anything runs."""


class TooManyJobsError(JobLimitError):
    """One person already has as many jobs queued or running as one person may (``FEATLIB_MAX_JOBS_PER_USER``).

    Raised before the new job is queued. Asking for a result whose job is on its way is never refused."""
