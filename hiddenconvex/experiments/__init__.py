"""The experiment edge of the package: everything that touches files.

* :mod:`~hiddenconvex.experiments.datasets` — the bundled datasets and CSV loading;
* :mod:`~hiddenconvex.experiments.cache` — the on-disk pattern cache;
* :mod:`~hiddenconvex.experiments.synthetic` — seeded synthetic data generators;
* :mod:`~hiddenconvex.experiments.config` — the experiment TOML file: validation, grid expansion,
  run ids;
* :mod:`~hiddenconvex.experiments.runner` — batch runs over the grid: execution (parallel,
  resumable), the run store and its lock;
* :mod:`~hiddenconvex.experiments.pipeline` — the default batch task (one run of the pipeline);
* :mod:`~hiddenconvex.experiments.real` — the real-data batch task (``make experiments-real``,
  ``scripts/configs/real.toml``): certified optimum or sampled objective with its certified
  gap, m*, the best of the trained nets, per dataset and β/β_max;
* :mod:`~hiddenconvex.experiments.table` — the tidy result CSV: assembling, merging under a lock,
  reading and checking a stored one;
* :mod:`~hiddenconvex.experiments.provenance` — versions, git revision, host, date;
* :mod:`~hiddenconvex.experiments.atomic` — atomic files, the CSV lock, writable folders;
* :mod:`~hiddenconvex.experiments.summary` — summary tables (CSV and Markdown) from a stored CSV;
* :mod:`~hiddenconvex.experiments.figures` — figures from stored CSVs (matplotlib, imported only
  when a figure is drawn).

The core modules of :mod:`hiddenconvex` never import from here.
"""
