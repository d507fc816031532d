"""Inverse stability of shallow ReLU parametrizations (Berner, Elbrächter & Grohs, NeurIPS 2019;
SPEC §5).

* :mod:`~hiddenconvex.stability.shallow` — shallow networks N_(d,m,D) and biased depth-2
  networks, parameter norms, balancing, merging (eq. 87);
* :mod:`~hiddenconvex.stability.sobolev` — the exact W^{1,∞} semi-norm (a maximum over the chambers
  of the weight arrangement) and the exact sup norm on the box;
* :mod:`~hiddenconvex.stability.reparametrization` — the spaces N' and N*, the augmentation of
  Lemma A.6 / Cor 1.4 and the reparametrizations of Theorems 3.1 and 3.3;
* :mod:`~hiddenconvex.stability.pathologies` — Examples 2.1–2.5 with their exact distances.

This part of the package shares only the error types with the convex-program core.
"""
