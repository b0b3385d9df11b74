"""StyleGAN2 training: non-saturating logistic loss, lazy R1, EMA generator, DiffAugment with an adaptive
(ADA-style) probability, style mixing, gradient accumulation, mixed precision on CUDA, multi-process
gradient averaging and exact resume; optionally a lazy penalty that keeps the diseases linear in W
(:mod:`ldedit_core.training.linearity`), which Link-PCA relies on.

Every random draw of step ``s`` (batch indices, z, noise, augmentation) is seeded from ``(seed, s)``, so a
run resumed from a checkpoint continues exactly as the uninterrupted run would have, with no RNG state to
save. The checkpoint is one safetensors file (networks, Adam moments, step) plus JSON metadata.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from ldedit_core.models import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from ldedit_core.training.augment import POLICIES, diff_augment
from ldedit_core.training.distributed import DistInfo, average_gradients, average_tensors, broadcast_module
from ldedit_core.training.linearity import DiseaseLinearity
from ldedit_core.training.seeding import derive_seed
from ldedit_core.training.state_io import (
    flatten_optimizer,
    load_tensors,
    prefixed,
    save_tensors,
    unflatten_optimizer,
    unprefixed,
)

CHECKPOINT_KIND = "ldedit-gan-checkpoint"


@dataclass
class GanTrainingConfig:
    """Hyper-parameters; defaults follow StyleGAN2-ADA's small-data settings scaled for small models."""

    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    batch: int = 16
    micro_batch: int = 0  # 0: the whole per-rank batch at once; else accumulate gradients
    lr_g: float = 0.0025
    lr_d: float = 0.0025
    r1_gamma: float = 0.05
    r1_interval: int = 16
    ema_kimg: float = 5.0
    ema_rampup: float = 0.05
    style_mixing: float = 0.9
    augment: tuple[str, ...] = POLICIES
    # each policy is applied with probability p; with ada_target > 0 p adapts (StyleGAN2-ADA): every
    # ada_interval steps it moves by batch * ada_interval / (ada_kimg * 1000) towards the value at which
    # E[sign(D(augmented real))] equals ada_target. ada_target 0 keeps p fixed (1: DiffAugment).
    augment_p: float = 0.0
    ada_target: float = 0.6
    ada_kimg: float = 100.0
    ada_interval: int = 4
    seed: int = 0
    amp: bool = True  # bf16 autocast, used only on CUDA
    # disease-linearity penalty (off unless linear_weight > 0): the frozen guide classifier's weights file,
    # the weight, how often (lazy, scaled by the interval as R1 is) and how many (w1, w2, t) triples
    linear_guide: str = ""
    linear_weight: float = 0.0
    linear_interval: int = 4
    linear_batch: int = 8

    #: fields that may change when a run is resumed (they change no tensor shape)
    RESUMABLE_OVERRIDES = (
        "augment_p",
        "ada_target",
        "ada_kimg",
        "lr_g",
        "lr_d",
        "r1_gamma",
        "ema_kimg",
        "linear_guide",
        "linear_weight",
        "linear_interval",
        "linear_batch",
    )

    def to_dict(self) -> dict:
        d = asdict(self)
        d["augment"] = list(self.augment)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> GanTrainingConfig:
        d = dict(d)
        d["generator"] = GeneratorConfig(**d["generator"])
        d["discriminator"] = DiscriminatorConfig(**d["discriminator"])
        d["augment"] = tuple(d.get("augment", ()))
        # checkpoints written before ADA existed augmented always, with a fixed probability
        d.setdefault("augment_p", 1.0)
        d.setdefault("ada_target", 0.0)
        return cls(**d)


class GanTrainer:
    """Owns G, D, the EMA generator and their optimizers; ``train_step()`` runs one iteration.

    Args:
        config: hyper-parameters and architectures.
        images: the training set, ``uint8 [N, C, R, R]`` on the CPU (values 0..255 -> [-1, 1]).
        device: where the networks run.
        dist_info: rank and world size when started by ``torchrun``.
    """

    def __init__(
        self,
        config: GanTrainingConfig,
        images: torch.Tensor,
        *,
        device: str | torch.device = "cpu",
        dist_info: DistInfo | None = None,
    ) -> None:
        c = config
        self._check_images(images, c)
        self.config, self.images, self.device = c, images, torch.device(device)
        self.dist = dist_info or DistInfo()
        if c.batch % self.dist.world_size:
            raise ValueError(f"batch {c.batch} must be divisible by the world size {self.dist.world_size}")
        self.per_rank = c.batch // self.dist.world_size
        self.micro = c.micro_batch or self.per_rank
        if self.per_rank % self.micro:
            raise ValueError(f"micro_batch {self.micro} must divide the per-rank batch {self.per_rank}")
        torch.manual_seed(derive_seed(c.seed, "init"))
        self.G = Generator(c.generator).to(self.device)
        self.D = Discriminator(c.discriminator).to(self.device)
        broadcast_module(self.G, self.dist.world_size)
        broadcast_module(self.D, self.dist.world_size)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        ratio = c.r1_interval / (c.r1_interval + 1)  # lazy regularisation correction (StyleGAN2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=c.lr_g, betas=(0.0, 0.99), eps=1e-8)
        self.opt_d = torch.optim.Adam(
            self.D.parameters(), lr=c.lr_d * ratio, betas=(0.0, 0.99**ratio), eps=1e-8
        )
        self.step = 0
        self.amp = c.amp and self.device.type == "cuda"
        self.augment_p = float(c.augment_p)
        # sum of sign(D(real)) and its count since the last adjustment, on the device (NCCL reduces there)
        self._ada_signs = torch.zeros(2, dtype=torch.float64, device=self.device)
        self.linearity = None
        if c.linear_weight > 0:
            if not c.linear_guide:
                raise ValueError("linear_weight > 0 needs linear_guide (a guide classifier's weights file)")
            self.linearity = DiseaseLinearity.from_file(
                c.linear_guide,
                resolution=c.generator.resolution,
                channels=c.generator.channels,
                batch=c.linear_batch,
                device=self.device,
            )

    @staticmethod
    def _check_images(images: torch.Tensor, c: GanTrainingConfig) -> None:
        g = c.generator
        expected = (g.channels, g.resolution, g.resolution)
        if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must be uint8 [N, {', '.join(map(str, expected))}], "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        if images.shape[0] < c.batch:
            raise ValueError(f"need at least batch={c.batch} images, got {images.shape[0]}")

    @property
    def kimg(self) -> float:
        return self.step * self.config.batch / 1000.0

    # ---- one iteration -------------------------------------------------------------------------
    def _reals(self, gen: torch.Generator) -> torch.Tensor:
        idx = torch.randint(len(self.images), (self.config.batch,), generator=gen)
        idx = idx[self.dist.rank * self.per_rank : (self.dist.rank + 1) * self.per_rank]
        return self.images[idx].to(self.device, torch.float32) / 127.5 - 1.0

    def _fakes(self, n: int, *, update_w_avg: bool) -> torch.Tensor:
        G, c = self.G, self.config
        z = torch.randn(n, G.z_dim, device=self.device)
        ws = G.broadcast(G.mapping(z, update_w_avg=update_w_avg))
        if c.style_mixing > 0 and torch.rand(()) < c.style_mixing:
            cutoff = int(torch.randint(1, G.num_ws, ()))
            ws2 = G.broadcast(G.mapping(torch.randn_like(z), update_w_avg=False))
            ws = torch.cat([ws[:, :cutoff], ws2[:, cutoff:]], dim=1)
        return G.synthesis(ws, noise_mode="random")

    def _aug(self, x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        return diff_augment(x, self.config.augment, gen, self.augment_p) if self.config.augment else x

    def _adapt_augment(self) -> None:
        """ADA's heuristic: r_t = E[sign(D(real))] over the last interval, summed over all ranks."""
        c = self.config
        if c.ada_target <= 0 or not c.augment or (self.step + 1) % c.ada_interval:
            return
        signs = self._ada_signs.clone()
        average_tensors([signs], self.dist.world_size)  # a mean of both sums: their ratio is unchanged
        rt = float(signs[0] / signs[1].clamp(min=1))
        step = c.batch * c.ada_interval / (c.ada_kimg * 1000)
        self.augment_p = min(max(self.augment_p + (step if rt > c.ada_target else -step), 0.0), 1.0)
        self._ada_signs.zero_()

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.amp)

    def train_step(self) -> dict[str, float]:
        """One iteration: G step, D step, lazy R1, EMA update. Returns the losses."""
        c, s = self.config, self.step
        torch.manual_seed(derive_seed(c.seed, s, self.dist.rank))
        gen_data = torch.Generator().manual_seed(derive_seed(c.seed, s, "data"))
        gen_aug = torch.Generator().manual_seed(derive_seed(c.seed, s, "aug", self.dist.rank))
        reals = self._reals(gen_data)
        chunks = range(0, self.per_rank, self.micro)
        scale = self.micro / self.per_rank
        stats = {"loss_g": 0.0, "loss_d": 0.0, "r1": 0.0}

        # generator: non-saturating loss softplus(-D(G(z)))
        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        for _ in chunks:
            with self._autocast():
                loss = F.softplus(
                    -self.D(self._aug(self._fakes(self.micro, update_w_avg=True), gen_aug))
                ).mean()
            (loss * scale).backward()
            stats["loss_g"] += float(loss.detach()) * scale
        if self.linearity is not None and s % c.linear_interval == 0:
            with self._autocast():
                penalty = self.linearity.penalty(self.G)
            (penalty * c.linear_weight * c.linear_interval).backward()
            stats["linearity"] = float(penalty.detach())
        average_gradients(list(self.G.parameters()), self.dist.world_size)
        average_tensors([self.G.mapping.w_avg], self.dist.world_size)  # lerp is linear: exact
        self.opt_g.step()

        # discriminator: softplus(D(fake)) + softplus(-D(real)), plus lazy R1 on reals
        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        self.opt_d.zero_grad(set_to_none=True)
        do_r1 = c.r1_gamma > 0 and s % c.r1_interval == 0
        for i in chunks:
            real = reals[i : i + self.micro]
            with torch.no_grad():
                fake = self._fakes(self.micro, update_w_avg=False)
            with self._autocast():
                loss = F.softplus(self.D(self._aug(fake, gen_aug))).mean()
                real_logits = self.D(self._aug(real, gen_aug))
                loss = loss + F.softplus(-real_logits).mean()
            self._ada_signs[0] += real_logits.detach().float().sign().sum()
            self._ada_signs[1] += real_logits.numel()
            if do_r1:
                real_r1 = real.detach().requires_grad_(True)
                logits = self.D(self._aug(real_r1, gen_aug))
                (grad,) = torch.autograd.grad(logits.sum(), real_r1, create_graph=True)
                penalty = grad.square().sum(dim=(1, 2, 3)).mean()
                loss = loss + penalty * (c.r1_gamma / 2) * c.r1_interval
                stats["r1"] += float(penalty.detach()) * scale
            (loss * scale).backward()
            stats["loss_d"] += float(loss.detach()) * scale
        average_gradients(list(self.D.parameters()), self.dist.world_size)
        self.opt_d.step()

        self._update_ema()
        stats["augment_p"] = self.augment_p
        self._adapt_augment()
        self.step += 1
        return stats

    @torch.no_grad()
    def _update_ema(self) -> None:
        c = self.config
        ema_nimg = c.ema_kimg * 1000
        if c.ema_rampup:
            ema_nimg = min(ema_nimg, (self.step + 1) * c.batch * c.ema_rampup)
        beta = 0.5 ** (c.batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    # ---- checkpoints ---------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path, extra: dict | None = None) -> Path:
        """Everything needed to continue exactly: networks, optimizer moments, step, config."""
        tensors = {**prefixed("G", self.G), **prefixed("D", self.D), **prefixed("G_ema", self.G_ema)}
        opt_g, meta_g = flatten_optimizer("opt_g", self.opt_g.state_dict())
        opt_d, meta_d = flatten_optimizer("opt_d", self.opt_d.state_dict())
        meta = {
            "kind": CHECKPOINT_KIND,
            "step": self.step,
            "kimg": self.kimg,
            "config": self.config.to_dict(),
            "augment_p": self.augment_p,
            "ada_signs": self._ada_signs.tolist(),
            "opt_g": meta_g,
            "opt_d": meta_d,
            **(extra or {}),
        }
        return save_tensors(path, {**tensors, **opt_g, **opt_d}, meta)

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        images: torch.Tensor,
        *,
        device: str | torch.device = "cpu",
        dist_info: DistInfo | None = None,
        overrides: dict | None = None,
    ) -> GanTrainer:
        """Rebuild a trainer from :meth:`save_checkpoint`'s file and continue where it stopped.

        ``overrides`` changes hyper-parameters that leave every tensor's shape alone
        (``GanTrainingConfig.RESUMABLE_OVERRIDES``: augmentation, learning rates, R1, EMA); the run then
        continues from the same state but is no longer the uninterrupted run's exact twin.
        """
        from ldedit_core.errors import InputError

        tensors, meta = load_tensors(path)
        if meta.get("kind") != CHECKPOINT_KIND:
            raise InputError(f"not an LDEdit GAN checkpoint (kind {meta.get('kind')!r})", path)
        overrides = dict(overrides or {})
        unknown = set(overrides) - set(GanTrainingConfig.RESUMABLE_OVERRIDES)
        if unknown:
            raise ValueError(
                f"cannot change {sorted(unknown)} when resuming; only {GanTrainingConfig.RESUMABLE_OVERRIDES}"
            )
        config = GanTrainingConfig.from_dict({**meta["config"], **overrides})
        trainer = cls(config, images, device=device, dist_info=dist_info)
        for name, module in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)):
            module.load_state_dict(unprefixed(name, tensors))
        trainer.opt_g.load_state_dict(unflatten_optimizer("opt_g", tensors, meta["opt_g"]))
        trainer.opt_d.load_state_dict(unflatten_optimizer("opt_d", tensors, meta["opt_d"]))
        # the optimizers' saved state carries the old learning rates; the (possibly overridden) config rules
        ratio = config.r1_interval / (config.r1_interval + 1)
        for group in trainer.opt_g.param_groups:
            group["lr"] = config.lr_g
        for group in trainer.opt_d.param_groups:
            group["lr"] = config.lr_d * ratio
        trainer.step = int(meta["step"])
        if "augment_p" not in overrides:
            trainer.augment_p = float(meta.get("augment_p", config.augment_p))
        if "ada_signs" in meta:
            trainer._ada_signs.copy_(torch.tensor(meta["ada_signs"], dtype=torch.float64))
        return trainer
