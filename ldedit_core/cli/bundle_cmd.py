"""``ldedit bundle info|verify PATH_OR_NAME``: describe a model bundle, or load and check all of it."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "bundle",
        help="describe or verify a model bundle",
        description="Model bundles hold the generator, discriminator, encoder and classifiers as safetensors "
        "with a bundle.json. A name is searched in $LDEDIT_BUNDLE_PATH, ~/.cache/ldedit/bundles, then the "
        "bundles shipped with LDEdit; anything with a '/' is a folder path.",
    )
    actions = p.add_subparsers(dest="bundle_action", metavar="ACTION")
    info = actions.add_parser("info", help="name, intended use, networks, training figures, provenance")
    verify = actions.add_parser("verify", help="load every network, check hashes, shapes and a generator run")
    for q in (info, verify):
        q.add_argument(
            "bundle", metavar="PATH_OR_NAME", help="bundle folder, or a bundle name such as 'default'"
        )
        q.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run, bundle_parser=p)


def run(args: argparse.Namespace) -> int:
    """Print what was asked; bad bundles raise ``InputError`` (exit status 2 from ``ldedit``)."""
    if args.bundle_action is None:
        args.bundle_parser.print_help()
        return 2
    from ldedit_core.models.bundle_locate import resolve_bundle
    from ldedit_core.models.bundle_schema import read_meta
    from ldedit_core.models.bundle_summary import format_summary, summarize

    if args.bundle_action == "verify":
        from ldedit_core.models.bundle import verify_bundle

        facts = verify_bundle(args.bundle)
    else:
        folder = resolve_bundle(args.bundle)
        facts = summarize(folder, read_meta(folder))
    if args.json:
        print(json.dumps(facts, indent=2))
    else:
        print(format_summary(facts))
        if args.bundle_action == "verify":
            print(
                "verified: every file matches its hash and every tensor its architecture; the generator runs"
            )
    return 0
