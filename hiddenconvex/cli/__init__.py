"""Command-line interface: ``hiddenconvex <command> ...``.

Each sub-command lives in its own module of this package and exposes ``register(subparsers)``.
User errors (:class:`~hiddenconvex.errors.InputError`) print one line to stderr and exit 2; solver
failures exit 3. No traceback for user errors.
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys

from ..errors import InputError, SolverError

COMMANDS = ["patterns", "solve", "optimal_set", "verify", "run", "path", "stability"]


class _Parser(argparse.ArgumentParser):
    """Argument errors in one line (``prog: error: message``, exit 2), without the usage block."""

    def error(self, message: str):
        # the value types of .common say "must be ...": "argument --x: must be" -> "--x must be"
        message = re.sub(r"^argument ([^:]+): (?=must be )", r"\1 ", message)
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="hiddenconvex",
        description=(
            "Exact optimal sets of regularized two-layer ReLU networks (hidden convex program)."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)
    for name in COMMANDS:
        try:
            mod = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:  # a command not built yet
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        mod.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run one command; returns the exit status (argument errors too: 2, ``--help``: 0)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits after printing its one-line error or the help
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"hiddenconvex {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except SolverError as exc:
        print(f"hiddenconvex {args.command}: solver error: {exc}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `hiddenconvex solve ... | head`: the reader went away
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
