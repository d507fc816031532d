"""Inverse stability of shallow ReLU parametrizations (Berner, Elbrächter & Grohs, NeurIPS 2019;
SPEC §5).

* :mod:`~hiddenconvex.stability.shallow` — shallow networks N_(d,m,D) and biased depth-2
  networks, parameter norms, balancing, merging (eq. 87), the sign flips of Lemma A.5;
* :mod:`~hiddenconvex.stability.sobolev` — the exact W^{1,∞} semi-norm (a maximum over the chambers
  of the weight arrangement) and the exact sup norm on the box;
* :mod:`~hiddenconvex.stability.spaces` — the restricted spaces N' and N* (C.2, Def 3.2) with
  membership tests, and the augmentation of Lemma A.6 / Cor 1.4 into N*;
* :mod:`~hiddenconvex.stability.orbits` — the rescaling orbit of a parametrization (permutations
  and positive rescalings of its neurons) and the exact distance to it;
* :mod:`~hiddenconvex.stability.reparametrization` — the hypotheses and the reparametrizations of
  Theorems 3.1 and 3.3, and Prop 1.2's radius;
* :mod:`~hiddenconvex.stability.pathologies` — Examples 2.1–2.5 with their exact distances.

Each module imports only modules listed before it. From the convex-program core this part uses
only the error types, the chamber enumeration :func:`hiddenconvex.patterns.exact_chambers` (the
semi-norm's chambers, with the unit normals of its merge) and the package's numerical rank rule.
"""
