"""Model bundles: a folder with ``bundle.json`` and one safetensors file per network. Never a pickle.

A bundle holds everything LDEdit needs to edit radiographs of one kind: the generator and, optionally,
its discriminator, an encoder, a guide classifier (steers edits) and an independent evaluator classifier
(measures them). ``bundle.json`` stores each network's kind and config, so the architecture is rebuilt
with :func:`~ldedit_core.models.registry.build_network` and only tensors are read from disk.

Example:
    >>> bundle = load_bundle("default")                       # or a folder path
    >>> ws = bundle.generator.broadcast(bundle.generator.mapping(torch.randn(1, bundle.generator.z_dim)))
    >>> image = bundle.generator.synthesis(ws)                # [1, channels, R, R] in [-1, 1]
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ldedit_core.errors import InputError
from ldedit_core.models.bundle_files import atomic_folder, check_file, read_tensors, write_json, write_tensors
from ldedit_core.models.bundle_locate import resolve_bundle
from ldedit_core.models.bundle_networks import network_entry, restore_network
from ldedit_core.models.bundle_provenance import default_provenance
from ldedit_core.models.bundle_schema import (
    INTENDED_USE,
    META_FILE,
    ROLES,
    SCHEMA_VERSION,
    check_name,
    default_preprocessing,
    did_you_mean,
    read_meta,
    validate_meta,
)
from ldedit_core.models.bundle_summary import format_summary, summarize

NetworkSpec = nn.Module | tuple[str, nn.Module]


@dataclass(eq=False)
class Bundle:
    """A loaded bundle; networks absent from it (or not requested) are ``None``.

    Attributes:
        path: the bundle folder.
        meta: the parsed ``bundle.json``.
        generator, discriminator, encoder, guide, evaluator: networks in eval mode without gradients.
        extras: ``{name: {tensor name: tensor}}`` from the bundle's extra safetensors files.
    """

    path: Path
    meta: dict
    generator: nn.Module | None = None
    discriminator: nn.Module | None = None
    encoder: nn.Module | None = None
    guide: nn.Module | None = None
    evaluator: nn.Module | None = None
    extras: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)

    name = property(lambda self: self.meta["name"])
    diseases = property(lambda self: list(self.meta["diseases"]), doc="canonical disease names")
    resolution = property(lambda self: self.meta["resolution"])
    channels = property(lambda self: self.meta["channels"])
    w_dim = property(lambda self: self.meta["w_dim"])
    num_ws = property(lambda self: self.meta["num_ws"])
    preprocessing = property(lambda self: dict(self.meta["preprocessing"]))
    directions = property(lambda self: dict(self.meta.get("directions") or {}))

    @property
    def networks(self) -> dict[str, nn.Module]:
        """``{role: network}`` of the loaded networks."""
        return {r: getattr(self, r) for r in ROLES if getattr(self, r) is not None}

    def summary(self) -> dict[str, Any]:
        """JSON-able facts about the bundle (see :func:`ldedit_core.models.bundle_summary.summarize`)."""
        return summarize(self.path, self.meta)

    def describe(self) -> str:
        """A few lines for people: name, intended use, resolution, diseases, networks, training figures."""
        return format_summary(self.summary())


def save_bundle(
    path: str | os.PathLike,
    networks: Mapping[str, NetworkSpec],
    *,
    name: str,
    description: str,
    diseases: Iterable[str],
    preprocessing: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
    provenance: Mapping[str, Any] | None = None,
    directions: Mapping[str, Any] | None = None,
    extras: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
    half: bool = False,
    overwrite: bool = False,
) -> Path:
    """Write a bundle folder; the networks passed in are left untouched.

    Args:
        path: the bundle folder to create. It is written under a temporary name and renamed when
            complete, so it never exists half-written.
        networks: ``{role: module}`` or ``{role: (kind, module)}``; roles are ``generator`` (required),
            ``discriminator``, ``encoder``, ``guide``, ``evaluator``. Each module needs a ``config``
            attribute with ``to_dict()`` (or a dict). Its kind is, in order: the one given in the tuple,
            the module's ``network_kind`` attribute, or the role's default (``guide``/``evaluator`` ->
            ``"classifier"``, others -> the role). The config must rebuild the module's exact tensors.
        name: bundle name (letters, digits, ``._-``), e.g. ``"default"``.
        description: one line for people.
        diseases: canonical disease names the bundle's classifiers and directions cover.
        preprocessing: how a radiograph becomes generator input; defaults to
            :func:`~ldedit_core.models.bundle_schema.default_preprocessing`.
        training: free JSON facts (data, kimg, AUROC per disease, ...).
        provenance: merged over the automatic one (command, ldedit and torch versions, git commit, date).
        directions: free JSON, e.g. per-disease latent statistics.
        extras: ``{name: {tensor name: tensor}}`` stored as extra safetensors files, loaded back as is.
        half: store floating network weights as float16 (half the size); they load back as float32.
        overwrite: replace an existing bundle at ``path``.

    Returns:
        The bundle folder.

    Raises:
        ValueError: a bad argument (unknown role or disease, no generator, a config that does not rebuild
            the module, weights beyond float16 range with ``half``).
        InputError: ``path`` exists and ``overwrite`` is false, or it is a non-bundle folder.
    """
    path = Path(path)
    check_name(name, "name")
    if not isinstance(networks, Mapping) or "generator" not in networks:
        raise ValueError("networks must be a mapping with at least a 'generator'")
    entries, tensors = {}, {}
    for role, spec in networks.items():
        if role not in ROLES:
            raise ValueError(
                f"unknown network role {role!r} (roles: {', '.join(ROLES)}){did_you_mean(role, ROLES)}"
            )
        entries[role], tensors[role] = network_entry(role, spec, half=half)
    extras = dict(extras or {})
    for extra_name, group in extras.items():
        check_name(extra_name, "extras name")
        if not isinstance(group, Mapping) or not all(torch.is_tensor(t) for t in group.values()):
            raise ValueError(f"extras[{extra_name!r}] must map tensor names to tensors")
    gen_config = entries["generator"]["config"]
    resolution = int(gen_config["resolution"])
    meta = {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "description": str(description),
        "intended_use": INTENDED_USE,
        "resolution": resolution,
        "channels": int(gen_config.get("channels", 1)),
        "w_dim": int(gen_config["w_dim"]),
        "num_ws": int(networks_module(networks["generator"]).num_ws),
        "diseases": list(diseases),
        "preprocessing": dict(preprocessing or default_preprocessing(resolution)),
        "networks": entries,
        "training": dict(training or {}),
        "provenance": {**default_provenance(), **dict(provenance or {})},
        "directions": dict(directions or {}),
        "extras": {n: {"file": f"extras.{n}.safetensors", "sha256": ""} for n in extras},
    }
    for entry in [*entries.values(), *meta["extras"].values()]:
        entry["sha256"] = "0" * 64  # placeholder so the schema check can run before anything is written
    try:
        validate_meta(meta, path / META_FILE)
    except InputError as exc:
        raise ValueError(exc.reason) from exc
    with atomic_folder(path, overwrite=overwrite) as tmp:
        for role, entry in entries.items():
            entry["sha256"] = write_tensors(
                tmp / entry["file"], tensors[role], {"role": role, "kind": entry["kind"]}
            )
        for extra_name, group in extras.items():
            entry = meta["extras"][extra_name]
            entry["sha256"] = write_tensors(tmp / entry["file"], group, {"extras": extra_name})
        write_json(tmp / META_FILE, meta)
        mode = (tmp / META_FILE).stat().st_mode & 0o777  # safetensors writes 0600; follow the umask instead
        for file in tmp.iterdir():
            file.chmod(mode)
    return path


def networks_module(spec: NetworkSpec) -> nn.Module:
    return spec[1] if isinstance(spec, tuple) else spec


def load_bundle(
    path_or_name: str | os.PathLike = "default",
    *,
    device: str | torch.device = "cpu",
    roles: Iterable[str] | None = None,
) -> Bundle:
    """Load a bundle: every file is hash-checked and every tensor checked against its architecture.

    Args:
        path_or_name: a bundle folder (or its ``bundle.json``), or a name looked up in
            ``$LDEDIT_BUNDLE_PATH``, ``~/.cache/ldedit/bundles``, then the shipped bundles.
        device: where the networks go.
        roles: load only these networks (e.g. ``("generator",)``); default: all in the bundle.

    Returns:
        The :class:`Bundle`, networks in eval mode with ``requires_grad`` off. Floating weights are
        float32 whatever dtype they were stored in. The global torch RNG state is left as it was.

    Raises:
        InputError: the bundle is not found, or any file is missing, unreadable, modified or inconsistent;
            the message names the file and the problem.
    """
    folder = resolve_bundle(path_or_name)
    meta = read_meta(folder)
    meta_path = folder / META_FILE
    wanted = list(meta["networks"]) if roles is None else list(roles)
    for role in wanted:
        if role not in ROLES:
            raise InputError(
                f"unknown role {role!r} requested (roles: {', '.join(ROLES)}){did_you_mean(role, ROLES)}"
            )
        if role not in meta["networks"]:
            raise InputError(
                f"this bundle has no {role!r} network (it has: {', '.join(meta['networks'])})", meta_path
            )
    bundle = Bundle(path=folder, meta=meta)
    with torch.random.fork_rng(devices=[]):  # building a network draws random initial weights
        for role in wanted:
            net = restore_network(folder, role, meta["networks"][role])
            setattr(bundle, role, net.to(device).eval().requires_grad_(False))
    if bundle.generator is not None:
        num_ws = getattr(bundle.generator, "num_ws", meta["num_ws"])
        if num_ws != meta["num_ws"]:
            raise InputError(f"num_ws is {meta['num_ws']} but the generator has {num_ws}", meta_path)
    for extra_name, entry in (meta.get("extras") or {}).items():
        file = folder / entry["file"]
        check_file(file, entry["sha256"], f"extras {extra_name!r}")
        bundle.extras[extra_name] = {k: v.to(device) for k, v in read_tensors(file).items()}
    return bundle


def verify_bundle(path_or_name: str | os.PathLike) -> dict[str, Any]:
    """Load every network and extra (hashes, shapes), then run the generator once.

    Returns:
        The bundle's :func:`summarize` dict with ``"verified": True``.

    Raises:
        InputError: any problem :func:`load_bundle` finds, or a generator whose output is not finite or
            not ``[1, channels, resolution, resolution]``.
    """
    bundle = load_bundle(path_or_name)
    g = bundle.generator
    if hasattr(g, "z_dim"):
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            image = g(torch.randn(1, g.z_dim))
        expected = (1, bundle.channels, bundle.resolution, bundle.resolution)
        if tuple(image.shape) != expected or not torch.isfinite(image).all():
            raise InputError(
                f"the generator's output is not finite or has shape {tuple(image.shape)} "
                f"(expected {expected})",
                bundle.path / META_FILE,
            )
    return {**bundle.summary(), "verified": True}


__all__ = ["Bundle", "load_bundle", "save_bundle", "verify_bundle"]
