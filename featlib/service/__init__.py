"""The product's main path, once: a result's key → the stored result in the workspace, else a job → stored → returned.

The pages, the CLI and ``precompute`` all ask a :class:`Service` for what they show; they differ only in
the :class:`~featlib.jobs.runner.Runner` they give it (in this process, on a cluster with tqdm bars, or
on the server's cluster with a progress bar and a Cancel button). Keys come from :mod:`featlib.keys`,
jobs from :mod:`featlib.jobs.specs`, storing from :mod:`featlib.pipeline`; so a result made by one of
them is found by the others in a shared workspace.

Every result is a :class:`Request`: :meth:`Service.get` makes one, :meth:`Service.get_all` makes
several side by side, :meth:`Service.start` and :meth:`Service.finish` let a caller interleave jobs
(``precompute``). A new analysis adds a job kind (:mod:`featlib.jobs.tasks`), a spec, a request here
and a view; never another copy of the path.

Example (an untrained seed MLP on the bundled digits, in this process):
    >>> import tempfile
    >>> from featlib import datasets, models
    >>> from featlib.jobs.runner import InlineRunner
    >>> from featlib.maps import embed, neighbour_change
    >>> from featlib.store import Workspace
    >>> workspace = Workspace(tempfile.mkdtemp())
    >>> record = models.save_model(workspace, models.build_mlp((64,), hidden=(16, 8), seed=0), "mlp", dataset="digits")
    >>> digits = datasets.load_digits()
    >>> runner = InlineRunner()
    >>> service = Service(workspace, runner)
    >>> outputs, key = service.representation(record, digits, "train", "dense_1", "function")
    >>> outputs.shape
    (1437, 8)
    >>> _, labels = digits.split("train")
    >>> emb = service.embedding(outputs, key, labels, sample_size=500, params=embed.PCAParams())
    >>> emb.coords.shape
    (500, 2)
    >>> again, _ = service.representation(record, digits, "train", "dense_1", "function")  # stored: no job runs
    >>> len(runner.ran)
    2
"""

from featlib.service.change import ChangeResults
from featlib.service.explain import ExplanationResults
from featlib.service.layers import LayerResults
from featlib.service.maps import MapResults
from featlib.service.path import ServicePath
from featlib.service.requests import LayerProgress, ModelRef, Request

__all__ = ["LayerProgress", "ModelRef", "Request", "Service", "ServicePath"]


class Service(MapResults, LayerResults, ChangeResults, ExplanationResults):
    """Gets or makes every result the product shows, in ``workspace``, running jobs through ``runner``.

    Made of one part per kind of result, as :class:`featlib.store.Workspace` is of one part per kind of
    content: :class:`~featlib.service.maps.MapResults`, :class:`~featlib.service.layers.LayerResults`,
    :class:`~featlib.service.change.ChangeResults` and :class:`~featlib.service.explain.ExplanationResults`, all on
    the one path of :class:`~featlib.service.path.ServicePath` (:meth:`get`).

    Args:
        workspace: where results are stored and looked up.
        runner: how jobs run and show progress (:mod:`featlib.jobs.runner`).
        creator: who asks (the app's user name): recorded as the maker of every result stored.
    """
