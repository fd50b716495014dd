"""featlib's Numba kernels: the one module of :mod:`featlib.maps` that imports Numba when it is imported.

``@numba.njit`` needs Numba when the function is defined, so the kernels live here, apart from the
modules that call them: :mod:`featlib.maps.knn` reaches them through a
:class:`featlib.lazy.LazyModule` proxy, and importing it (or :mod:`featlib.maps.embed`) does not import
Numba. :func:`featlib.maps.embed.enable_numba_cache` turns on the cache of the kernels here, with
umap-learn's and pynndescent's (:mod:`featlib.maps.compile_cache`).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def select_smallest(scores, keep, out):  # noqa: ANN001  (compiled by Numba)
    """Writes into ``out[i]`` the column indices of the ``keep`` smallest values of ``scores[i]`` (in no order).

    A bounded max-heap per row: a value enters when below the heap's largest,
    so of equal values the first column stays. A plain function of arrays and
    integers, so Numba's cache keeps it (:mod:`featlib.maps.compile_cache`).
    """
    rows, columns = scores.shape
    heap = np.empty(keep, dtype=np.float32)
    for i in range(rows):
        slots = out[i]
        for j in range(keep):
            heap[j] = np.inf
            slots[j] = -1
        top = heap[0]
        for j in range(columns):
            value = scores[i, j]
            if value < top:
                p = 0
                while True:
                    c = 2 * p + 1
                    if c >= keep:
                        break
                    if c + 1 < keep and heap[c + 1] > heap[c]:
                        c += 1
                    if heap[c] <= value:
                        break
                    heap[p] = heap[c]
                    slots[p] = slots[c]
                    p = c
                heap[p] = value
                slots[p] = j
                top = heap[0]
