"""``ldedit``: the command-line entry point.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args) -> int``; this file
only assembles them, sets up logging and turns user errors into a one-line message and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from ldedit_core import __version__
from ldedit_core.errors import InputError

LOGGER = logging.getLogger("ldedit")
#: Subcommand modules ``ldedit_core.cli.<name>_cmd``, each with ``add_parser(subparsers)``.
COMMANDS = (
    "bundle",
    "demo",
    "edit",
    "evaluate",
    "fit_directions",
    "info",
    "jobs",
    "phantoms",
    "serve",
    "train_classifier",
    "train_encoder",
    "train_gan",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="ldedit",
        description="LDEdit: synthetic, gradual disease follow-ups of chest radiographs. "
        "Research use only: every output is synthetic and not for diagnosis.",
    )
    parser.add_argument("--version", action="version", version=f"ldedit {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"ldedit_core.cli.{name}_cmd").add_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 1 failure, 2 bad input or usage, 130 interrupted)."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # what was asked, for provenance records
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(f"ldedit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ldedit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # python -m ldedit_core.cli.main (torchrun uses this)
    sys.exit(main())
