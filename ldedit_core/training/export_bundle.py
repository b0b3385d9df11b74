"""Assemble a model bundle from training runs: GAN checkpoint, encoder, guide and evaluator classifiers."""

from __future__ import annotations

import json
from pathlib import Path

from ldedit_core.models.bundle import save_bundle
from ldedit_core.phantoms import DISEASES
from ldedit_core.training.classifier_trainer import load_classifier
from ldedit_core.training.encoder_trainer import load_encoder, load_gan


def _classifier(source: str | Path):
    """A classifier from a run folder (``classifier.safetensors`` + ``metrics.json``) or a weights file."""
    path = Path(source)
    weights = path / "classifier.safetensors" if path.is_dir() else path
    model, _ = load_classifier(weights)
    metrics_file = weights.parent / "metrics.json"
    metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
    return model, metrics


def export_bundle(
    out: str | Path,
    *,
    gan: str | Path,
    encoder: str | Path | None = None,
    guide: str | Path | None = None,
    evaluator: str | Path | None = None,
    name: str = "default",
    description: str = "",
    data: str = "",
    half: bool = True,
    overwrite: bool = False,
    command: str | None = None,
) -> Path:
    """Write a bundle at ``out`` from the given training outputs; returns its folder.

    Args:
        out: bundle folder.
        gan: a ``train-gan`` checkpoint (its EMA generator and discriminator are exported).
        encoder: a ``train-encoder`` checkpoint.
        guide, evaluator: ``train-classifier`` run folders (or their ``classifier.safetensors``).
        name, description: for ``bundle.json``.
        data: description of the training data, for people.
        half: store float16 weights (the shipped default must stay small).
        overwrite: replace an existing bundle.
        command: the command that rebuilt it, recorded in the provenance.
    """
    G, D, gan_meta = load_gan(gan)
    networks: dict = {"generator": G, "discriminator": D}
    training: dict = {
        "data": data,
        "gan_kimg": round(float(gan_meta.get("kimg", 0.0)), 1),
        "gan_config": gan_meta.get("config", {}),
    }
    if encoder is not None:
        networks["encoder"] = load_encoder(encoder)
        metrics = Path(encoder).parent / "metrics.json"
        if metrics.is_file():
            training["encoder"] = json.loads(metrics.read_text())
    diseases = list(DISEASES)
    for role, source in (("guide", guide), ("evaluator", evaluator)):
        if source is not None:
            model, metrics = _classifier(source)
            networks[role] = model
            diseases = list(model.config.diseases)
            training[role] = metrics
    provenance = {"command": command} if command else None
    return save_bundle(
        out,
        networks,
        name=name,
        description=description,
        diseases=diseases,
        training=training,
        provenance=provenance,
        half=half,
        overwrite=overwrite,
    )
