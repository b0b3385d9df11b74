"""Multi-label disease classifier training: BCE with logits, AdamW, cosine learning rate, per-disease AUROC.

The images are split into training and held-out parts by ``split_seed`` (the guide and the evaluator use
different seeds and populations). Every random draw of step ``s`` (the epoch's permutation, each image's
augmentation, dropout) is seeded from ``(seed, epoch, ...)`` or ``(seed, s)``, so a run resumed from a
checkpoint continues bit-exactly as the uninterrupted run would have (on the CPU), with no RNG state to save.

Files in the run folder: ``checkpoint.safetensors`` (model, AdamW moments, step, history),
``classifier.safetensors`` (the weights, with the config and metrics in the metadata) and ``metrics.json``.

Example:
    >>> cfg = ClassifierTrainingConfig(ClassifierConfig(arch="densenet-small", resolution=64), epochs=5)
    >>> model, metrics = train_classifier(cfg, images, labels, out_dir="runs/guide")
    >>> metrics["auroc"]
    {'cardiomegaly': 0.97, 'effusion': 0.93, 'edema': 0.88, 'nodule': 0.71}
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ldedit_core.errors import InputError
from ldedit_core.models.classifier import ClassifierConfig, DiseaseClassifier, build_classifier
from ldedit_core.training.augment_classifier import AugmentedImages, derive_seed
from ldedit_core.training.state_io import (
    flatten_optimizer,
    load_tensors,
    prefixed,
    save_tensors,
    unflatten_optimizer,
    unprefixed,
)

LOGGER = logging.getLogger(__name__)
CHECKPOINT_KIND = "ldedit-classifier-checkpoint"
WEIGHTS_KIND = "ldedit-classifier"
CHECKPOINT, WEIGHTS, METRICS = "checkpoint.safetensors", "classifier.safetensors", "metrics.json"
ROLES = ("guide", "evaluator")


@dataclass
class ClassifierTrainingConfig:
    """Hyper-parameters of one classifier run.

    Args:
        classifier: the architecture.
        epochs: passes over the training split.
        batch: images per step (the last incomplete batch of an epoch is dropped).
        lr: peak AdamW learning rate, reached after ``warmup`` of the steps, then cosine to 0.
        weight_decay: AdamW decoupled weight decay.
        warmup: fraction of the steps with a linear warm-up.
        val_fraction: held-out fraction, in [0, 1).
        split_seed: seed of the train / held-out split.
        seed: seed of initialisation, order, augmentation and dropout.
        augment: MONAI augmentation of the training images.
        amp: bf16 autocast (CUDA only).
        role: "guide" or "evaluator" (recorded in the metadata).
    """

    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    epochs: int = 5
    batch: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-2
    warmup: float = 0.03
    val_fraction: float = 0.2
    split_seed: int = 0
    seed: int = 0
    augment: bool = True
    amp: bool = True
    role: str = "guide"

    def __post_init__(self) -> None:
        for name in ("epochs", "batch"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ValueError(f"{name}: expected a positive integer, got {getattr(self, name)!r}")
        if not self.lr > 0:
            raise ValueError(f"lr: expected a positive learning rate, got {self.lr!r}")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction: expected a fraction in [0, 1), got {self.val_fraction!r}")
        if not 0.0 <= self.warmup < 1.0:
            raise ValueError(f"warmup: expected a fraction in [0, 1), got {self.warmup!r}")
        if self.role not in ROLES:
            raise ValueError(f"role: expected one of {ROLES}, got {self.role!r}")

    def to_dict(self) -> dict:
        return {**asdict(self), "classifier": self.classifier.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> ClassifierTrainingConfig:
        return cls(**{**d, "classifier": ClassifierConfig(**d["classifier"])})


def split_indices(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted training and held-out indices of ``n`` images; the same arguments give the same split."""
    if n < 2:
        raise ValueError(f"n: need at least 2 images to split, got {n}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction: expected a fraction in [0, 1), got {val_fraction!r}")
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(derive_seed("split", seed)))
    n_val = min(n - 1, max(1, round(n * val_fraction))) if val_fraction > 0 else 0
    return perm[n_val:].sort().values, perm[:n_val].sort().values


def masked_bce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy with logits over the known (non-NaN) labels; ``[N, D]`` each."""
    if logits.shape != labels.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and labels {tuple(labels.shape)} differ in shape")
    known = ~torch.isnan(labels)
    loss = F.binary_cross_entropy_with_logits(logits.float(), labels.nan_to_num(0.0), reduction="none")
    return (loss * known).sum() / known.sum().clamp(min=1)


def auroc_per_disease(
    labels: torch.Tensor, scores: torch.Tensor, diseases: list[str]
) -> dict[str, float | None]:
    """ROC AUC of each column (sklearn), over the known labels; None where only one class is present."""
    from sklearn.metrics import roc_auc_score

    if labels.shape != scores.shape or labels.shape[1] != len(diseases):
        raise ValueError(
            f"labels {tuple(labels.shape)} and scores {tuple(scores.shape)} must both be [N, {len(diseases)}]"
        )
    out: dict[str, float | None] = {}
    for j, name in enumerate(diseases):
        known = ~torch.isnan(labels[:, j])
        y, s = labels[known, j].numpy(), scores[known, j].float().numpy()
        out[name] = float(roc_auc_score(y, s)) if len(set(y.tolist())) == 2 else None
    return out


class ClassifierTrainer:
    """Owns the classifier and its optimizer; ``train_step()`` runs one step, ``evaluate()`` scores.

    Args:
        config: hyper-parameters and architecture.
        images: ``uint8 [N, 1, R, R]`` on the CPU (0..255 -> [-1, 1]).
        labels: float ``[N, len(diseases)]``: 1 present, 0 absent, NaN unknown.
        device: where the network runs.
        workers: DataLoader processes for augmentation (0: in this process).
    """

    def __init__(
        self,
        config: ClassifierTrainingConfig,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        device: str | torch.device = "cpu",
        workers: int = 0,
    ) -> None:
        c = config.classifier
        expected = (c.in_channels, c.resolution, c.resolution)
        if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != expected:
            shape = ", ".join(map(str, expected))
            raise ValueError(f"images: expected uint8 [N, {shape}], got {images.dtype} {tuple(images.shape)}")
        if labels.shape != (images.shape[0], len(c.diseases)):
            raise ValueError(
                f"labels: expected [{images.shape[0]}, {len(c.diseases)}], got {tuple(labels.shape)}"
            )
        self.config, self.device, self.workers = config, torch.device(device), workers
        self.images, self.labels = images, labels.float()
        self.train_idx, self.val_idx = split_indices(len(images), config.val_fraction, config.split_seed)
        self.batch = min(config.batch, len(self.train_idx))
        if self.batch < 2:
            raise ValueError(
                f"images: need at least 2 training images after the split, got {len(self.train_idx)}"
            )
        self.data = AugmentedImages(
            images, self.labels, indices=self.train_idx, seed=config.seed, augment=config.augment
        )
        torch.manual_seed(derive_seed(config.seed, "init"))
        self.model: DiseaseClassifier = build_classifier(c).to(self.device)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.step = 0
        self.history: list[dict] = []
        self.amp = config.amp and self.device.type == "cuda"
        self._batches: Iterator[tuple[torch.Tensor, torch.Tensor]] | None = None
        self._batches_step = -1

    @property
    def steps_per_epoch(self) -> int:
        return len(self.train_idx) // self.batch

    @property
    def total_steps(self) -> int:
        return self.steps_per_epoch * self.config.epochs

    @property
    def epoch(self) -> int:
        """Completed epochs."""
        return self.step // self.steps_per_epoch

    def lr_at(self, step: int) -> float:
        """Linear warm-up, then cosine decay to 0 at :attr:`total_steps`."""
        warm = int(self.config.warmup * self.total_steps)
        if step < warm:
            return self.config.lr * (step + 1) / warm
        progress = (step - warm) / max(1, self.total_steps - warm)
        return self.config.lr * 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    def _epoch_batches(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """The remaining batches of the current epoch, from :attr:`step` on."""
        epoch, first = divmod(self.step, self.steps_per_epoch)
        gen = torch.Generator().manual_seed(derive_seed(self.config.seed, epoch, "order"))
        order = torch.randperm(len(self.train_idx), generator=gen)
        batches = [b.tolist() for b in order.split(self.batch)[: self.steps_per_epoch]]
        self.data.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(
            self.data, batch_sampler=batches[first:], num_workers=self.workers
        )
        yield from loader

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def train_step(self) -> float:
        """One optimiser step on the next batch; returns its loss."""
        if self._batches is None or self._batches_step != self.step:
            self._batches = self._epoch_batches()
        batch = next(self._batches, None)
        if batch is None:  # the epoch is over
            self._batches = self._epoch_batches()
            batch = next(self._batches)
        x, y = batch[0].to(self.device), batch[1].to(self.device)
        torch.manual_seed(derive_seed(self.config.seed, self.step))  # dropout
        for group in self.opt.param_groups:
            group["lr"] = self.lr_at(self.step)
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        with self._autocast():
            logits = self.model(x)
        loss = masked_bce(logits, y)
        loss.backward()
        self.opt.step()
        self.step += 1
        self._batches_step = self.step
        return float(loss.detach())

    @torch.no_grad()
    def predict(self, indices: torch.Tensor, batch: int = 256) -> torch.Tensor:
        """Probabilities ``[len(indices), D]`` of the unaugmented images at ``indices`` (eval mode)."""
        self.model.eval()
        out = []
        for chunk in torch.as_tensor(indices).split(batch):
            x = self.images[chunk].to(self.device, torch.float32) / 127.5 - 1.0
            with self._autocast():
                out.append(torch.sigmoid(self.model(x).float()).cpu())
        return torch.cat(out) if out else torch.empty(0, len(self.config.classifier.diseases))

    def evaluate(self) -> dict:
        """Held-out loss and per-disease AUROC (None where the held-out split has one class only)."""
        diseases = list(self.config.classifier.diseases)
        if len(self.val_idx) == 0:
            return {"val_loss": None, "auroc": dict.fromkeys(diseases), "auroc_mean": None}
        probs, labels = self.predict(self.val_idx), self.labels[self.val_idx]
        loss = masked_bce(torch.logit(probs.clamp(1e-6, 1 - 1e-6)), labels)
        auroc = auroc_per_disease(labels, probs, diseases)
        known = [v for v in auroc.values() if v is not None]
        return {
            "val_loss": float(loss),
            "auroc": auroc,
            "auroc_mean": sum(known) / len(known) if known else None,
        }

    # ---- files ---------------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path) -> Path:
        """Model, AdamW moments, step and history: everything needed to continue exactly."""
        opt, opt_meta = flatten_optimizer("opt", self.opt.state_dict())
        meta = {
            "kind": CHECKPOINT_KIND,
            "step": self.step,
            "config": self.config.to_dict(),
            "opt": opt_meta,
            "history": self.history,
            "n_images": len(self.images),
        }
        return save_tensors(path, {**prefixed("model", self.model), **opt}, meta)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        device: str | torch.device = "cpu",
        workers: int = 0,
    ) -> ClassifierTrainer:
        """Rebuild a trainer from :meth:`save_checkpoint`'s file to continue where it stopped."""
        tensors, meta = load_tensors(path)
        if meta.get("kind") != CHECKPOINT_KIND:
            raise InputError(f"not an LDEdit classifier checkpoint (kind {meta.get('kind')!r})", path)
        config = ClassifierTrainingConfig.from_dict(meta["config"])
        if meta.get("n_images") != len(images):
            raise InputError(
                f"the checkpoint was trained on {meta.get('n_images')} images, not these {len(images)}; "
                "resume with the same data",
                path,
            )
        trainer = cls(config, images, labels, device=device, workers=workers)
        trainer.model.load_state_dict(unprefixed("model", tensors))
        trainer.opt.load_state_dict(unflatten_optimizer("opt", tensors, meta["opt"]))
        trainer.step, trainer.history = int(meta["step"]), list(meta["history"])
        return trainer

    def metrics(self) -> dict:
        """The last evaluation with the run's description (what ``metrics.json`` holds)."""
        c = self.config
        last = self.history[-1] if self.history else {**self.evaluate(), "epoch": self.epoch}
        return {
            "arch": c.classifier.arch,
            "role": c.role,
            "diseases": list(c.classifier.diseases),
            "resolution": c.classifier.resolution,
            "auroc": last["auroc"],
            "auroc_mean": last["auroc_mean"],
            "val_loss": last["val_loss"],
            "n_train": len(self.train_idx),
            "n_val": len(self.val_idx),
            "epochs": self.epoch,
            "steps": self.step,
            "seed": c.seed,
            "split_seed": c.split_seed,
            "val_fraction": c.val_fraction,
            "history": self.history,
        }

    def save_weights(self, path: str | Path, extra: dict | None = None) -> Path:
        """The trained weights with the config (to rebuild them) and the metrics in the metadata."""
        meta = {
            "kind": WEIGHTS_KIND,
            "network": "classifier",
            "config": self.config.classifier.to_dict(),
            "role": self.config.role,
            "metrics": self.metrics(),
            **(extra or {}),
        }
        return save_tensors(path, self.model.state_dict(), meta)


def load_classifier(
    path: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[DiseaseClassifier, dict]:
    """A classifier saved by :meth:`ClassifierTrainer.save_weights`, in eval mode, and its metadata.

    Raises:
        InputError: missing, corrupt or not a classifier weights file.
    """
    from ldedit_core.models.registry import build_network

    tensors, meta = load_tensors(path)
    if meta.get("kind") != WEIGHTS_KIND:
        raise InputError(f"not an LDEdit classifier weights file (kind {meta.get('kind')!r})", path)
    model = build_network("classifier", meta["config"])
    model.load_state_dict(tensors)
    return model.to(device).eval(), meta


def train_classifier(
    config: ClassifierTrainingConfig,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    out_dir: str | Path | None = None,
    device: str | torch.device = "cpu",
    resume: bool = False,
    progress: bool = True,
    checkpoint_seconds: float = 300.0,
    workers: int = 0,
) -> tuple[DiseaseClassifier, dict]:
    """Train (or, with ``resume``, continue) a classifier; evaluate after every epoch.

    Args:
        config: hyper-parameters.
        images: ``uint8 [N, 1, R, R]``.
        labels: float ``[N, D]`` (NaN = unknown).
        out_dir: run folder for the checkpoint, ``classifier.safetensors`` and ``metrics.json``
            (None: nothing is written).
        device: where to train.
        resume: continue from ``out_dir/checkpoint.safetensors`` when it exists.
        progress: show a tqdm bar with the ETA.
        checkpoint_seconds: also checkpoint this often within an epoch.
        workers: DataLoader processes for augmentation.

    Returns:
        The trained model (eval mode) and its metrics (as in ``metrics.json``).
    """
    from tqdm import tqdm

    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / CHECKPOINT if out is not None else None
    if resume and ckpt is not None and ckpt.is_file():
        trainer = ClassifierTrainer.from_checkpoint(ckpt, images, labels, device=device, workers=workers)
        LOGGER.warning("resuming %s at step %d of %d", ckpt, trainer.step, trainer.total_steps)
    else:
        trainer = ClassifierTrainer(config, images, labels, device=device, workers=workers)
    bar = tqdm(total=trainer.total_steps, initial=trainer.step, unit="step", disable=not progress)
    last_save, losses = time.monotonic(), []
    while trainer.step < trainer.total_steps:
        losses.append(trainer.train_step())
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.4f}", epoch=f"{trainer.step / trainer.steps_per_epoch:.2f}")
        if trainer.step % trainer.steps_per_epoch == 0:
            train_loss = sum(losses) / len(losses)  # of the steps this process ran in the epoch
            trainer.history.append({"epoch": trainer.epoch, "train_loss": train_loss, **trainer.evaluate()})
            losses = []
            LOGGER.info("epoch %d: %s", trainer.epoch, trainer.history[-1])
        if ckpt is not None and (
            trainer.step % trainer.steps_per_epoch == 0 or time.monotonic() - last_save > checkpoint_seconds
        ):
            trainer.save_checkpoint(ckpt)
            last_save = time.monotonic()
    bar.close()
    metrics = trainer.metrics()
    if out is not None:
        trainer.save_weights(out / WEIGHTS)
        (out / METRICS).write_text(json.dumps(metrics, indent=2) + "\n")
    return trainer.model.eval(), metrics
