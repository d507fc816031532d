"""The experiment edge of the package: everything that touches files.

* :mod:`~hiddenconvex.experiments.datasets` — the bundled datasets and CSV loading;
* :mod:`~hiddenconvex.experiments.cache` — the on-disk pattern cache;
* :mod:`~hiddenconvex.experiments.synthetic` — seeded synthetic data generators;
* :mod:`~hiddenconvex.experiments.runner` — batch runs over a parameter grid: configuration, run
  store, tidy CSV, provenance, atomic files.

The core modules of :mod:`hiddenconvex` never import from here.
"""
