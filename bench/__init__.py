"""featlib's benchmarks: kept in the repository, never installed with the package.

``featlib bench`` (``make bench``) runs the harness from a checkout:
:mod:`bench.harness` measures the product's costs on one dataset,
:mod:`bench.scaling` maps the same vectors with featlib and with each of
:mod:`bench.peers` at several sizes. The other modules here are studies run
as scripts (``.venv/bin/python bench/knn_paths.py``); their figures are in
``bench/RESULTS.md`` and ``docs/performance.md``.
"""
