"""Reading a saved view's query: the :class:`~featlib.share.views.View` or :class:`~featlib.share.compare.CompareView`
it describes.

The store keeps saved views as plain query dicts (:mod:`featlib.store.saved_views`) and never imports the
view modules; callers hand :func:`parse` to :meth:`featlib.store.Workspace.save_view` and
:meth:`~featlib.store.Workspace.find_view` so that a view is stored in its validated, canonical form.
"""

from __future__ import annotations

from collections.abc import Mapping

from featlib.errors import ViewError
from featlib.share.compare import CompareView, is_compare_query
from featlib.share.views import View
from featlib.store.saved_views import check_query


def parse(kind: str, query: Mapping[str, str]) -> View | CompareView:
    """The view a query describes, read strictly: a :class:`featlib.share.views.View` or a
    :class:`featlib.share.compare.CompareView`.

    Raises:
        ValueError: the query is not a view of that kind (:class:`featlib.share.views.ViewError` or
            :class:`featlib.share.compare.CompareError`, naming the parameter), or the kind is unknown.
    """
    check_query(kind, query)
    if kind == "explore":
        return View.from_query(dict(query))
    if not is_compare_query(query):
        raise ViewError("A comparison's query names its panels (p1=model:layer:method:reducer, ...); got none.")
    return CompareView.from_query(query)
