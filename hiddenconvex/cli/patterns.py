"""``hiddenconvex patterns DATA.csv``: activation patterns of the data (SPEC §1.2, §3).

Exact chamber enumeration, Gaussian-gate sampling, or ``auto`` (exact when Cover's bound is at most
``--max-exact``). Results are cached on disk (``--no-cache`` to skip, ``--cache-dir`` or the
``HIDDENCONVEX_CACHE_DIR`` environment variable to relocate). ``--json`` prints one object with
data, n, d, rank, bias, method (the one used), method_requested, pattern_set, num_patterns,
num_nonzero_patterns, complete, cover_bound, max_exact, samples and seed (null unless sampled),
seconds, cache_hit and cache_path. Input errors: one line on stderr, exit status 2.

Patterns need no labels: the target column (``y`` or ``--target``) is left out of the features
when present, and a CSV without a ``y`` column is read as features only.
"""

from __future__ import annotations

import sys

from .common import (
    HelpFormatter,
    add_data_args,
    add_json_arg,
    add_pattern_args,
    load_data,
    positive_int,
    print_json,
    print_table,
)


def register(subparsers) -> None:
    from ..patterns import DEFAULT_MAX_EXACT, PATTERN_SETS

    p = subparsers.add_parser(
        "patterns",
        help="enumerate (or sample) the activation patterns of the data",
        description=(
            "Chamber patterns of the central arrangement {x_j^T u = 0} of the data rows: exact "
            "enumeration, seeded Gaussian sampling, or auto (exact when Cover's bound is at most "
            "--max-exact)."
        ),
        formatter_class=HelpFormatter,
    )
    add_data_args(p, labels_needed=False)
    add_pattern_args(p)
    add_json_arg(p)
    p.add_argument("--pattern-set", choices=PATTERN_SETS, default="chamber",
                   help="chamber patterns (canonical) or the paper's >=-patterns (exact only)")
    p.add_argument("--max-exact", type=positive_int, default=DEFAULT_MAX_EXACT,
                   help="auto: enumerate exactly when Cover's bound is at most this")
    p.add_argument("--cache-dir", default=None,
                   help="pattern cache directory (default: $HIDDENCONVEX_CACHE_DIR or "
                        "./.cache/hiddenconvex/patterns)")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InputError
    from ..experiments.cache import cached_patterns
    from ..patterns import cover_bound

    data = load_data(args)
    bound = cover_bound(data.X)
    try:
        res = cached_patterns(data.X, args.method, n_samples=args.samples, seed=args.seed,
                              pattern_set=args.pattern_set, max_exact=args.max_exact,
                              cache_dir=args.cache_dir, use_cache=not args.no_cache)
    except MemoryError:
        raise InputError(
            f"out of memory enumerating the patterns of {data.name} (n = {data.X.shape[0]}, "
            f"Cover bound {bound} chambers); use --method sample or --method auto"
        ) from None
    P = res.patterns
    record = {
        "data": data.name,
        "n": P.n,
        "d": P.d,
        "rank": P.rank,
        "bias": bool(args.bias),
        "method": P.method,
        "method_requested": args.method,
        "pattern_set": P.pattern_set,
        "num_patterns": P.p,
        "num_nonzero_patterns": int(P.D.any(axis=0).sum()),
        "complete": bool(P.complete),
        "cover_bound": bound,
        "max_exact": args.max_exact,
        "samples": P.n_samples,
        "seed": P.seed,
        "seconds": res.seconds,
        "cache_hit": res.hit,
        "cache_path": res.path,
    }
    if res.warning:
        print(f"hiddenconvex patterns: warning: {res.warning}", file=sys.stderr)
    if args.json:
        print_json(record)
    else:
        print_table(record)
    return 0
