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
    build = actions.add_parser("build", help="assemble a bundle from train-gan/-encoder/-classifier outputs")
    build.add_argument("--out", required=True, help="bundle folder to write")
    build.add_argument("--gan", required=True, help="train-gan checkpoint.safetensors")
    build.add_argument("--encoder", help="train-encoder checkpoint")
    build.add_argument("--guide", help="train-classifier run folder of the guide classifier")
    build.add_argument("--evaluator", help="train-classifier run folder of the evaluator")
    build.add_argument("--name", default="default")
    build.add_argument("--description", default="LDEdit bundle")
    build.add_argument("--data", default="", help="what it was trained on, for people")
    build.add_argument("--float32", action="store_true", help="keep float32 weights (default: float16)")
    build.add_argument("--overwrite", action="store_true", help="replace an existing bundle")
    p.set_defaults(func=run, bundle_parser=p)


def run(args: argparse.Namespace) -> int:
    """Print what was asked; bad bundles raise ``InputError`` (exit status 2 from ``ldedit``)."""
    if args.bundle_action is None:
        args.bundle_parser.print_help()
        return 2
    if args.bundle_action == "build":
        return _build(args)
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


def _build(args: argparse.Namespace) -> int:
    import shlex

    from ldedit_core.training.export_bundle import export_bundle

    path = export_bundle(
        args.out,
        gan=args.gan,
        encoder=args.encoder,
        guide=args.guide,
        evaluator=args.evaluator,
        name=args.name,
        description=args.description,
        data=args.data,
        half=not args.float32,
        overwrite=args.overwrite,
        command="ldedit " + shlex.join(args.argv),
    )
    print(f"bundle written: {path}")
    return 0
