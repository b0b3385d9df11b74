"""Train the image -> W+ encoder against a frozen generator (the CRG scheme of Saboo et al., seed 001).

Each batch mixes two cycles, in proportion ``real_fraction``:

- generated: ``z -> w -> ws`` (broadcast, optionally style-mixed so all of W+ is covered) ``-> x = G(ws)``
  with constant noise; the encoder must recover ``ws`` (latent L1 or L2) and ``G(E(x))`` must match ``x``;
- real: ``x -> E -> G -> x_hat`` must match the radiograph ``x``.

Image terms are L2, ``1 - SSIM`` and, when a discriminator is given, the distance between its features
(the perceptual term: no LPIPS weights can be downloaded here). An e4e-style regulariser penalises the
spread of the per-layer latents around their mean, which keeps ``E(x)`` near W (all layers equal).

Every random draw of step ``s`` comes from generators seeded with ``(seed, s)``, so a run resumed from a
checkpoint continues bit-exactly; the checkpoint holds the frozen networks too, so it is self-contained.
"""

from __future__ import annotations

import copy
import difflib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from ldedit_core.errors import InputError
from ldedit_core.models import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    feature_distance,
)
from ldedit_core.models.encoder import Encoder, EncoderConfig
from ldedit_core.models.image_metrics import ssim
from ldedit_core.training.seeding import derive_seed
from ldedit_core.training.state_io import (
    flatten_optimizer,
    load_tensors,
    prefixed,
    save_tensors,
    unflatten_optimizer,
    unprefixed,
)

CHECKPOINT_KIND = "ldedit-encoder-checkpoint"
GAN_CHECKPOINT_KIND = "ldedit-gan-checkpoint"
LATENT_LOSSES = ("l1", "l2")


@dataclass
class EncoderTrainingConfig:
    """Hyper-parameters of encoder training.

    Args:
        encoder: the encoder's architecture (see ``EncoderConfig.for_generator``).
        batch: images per step (generated plus real).
        lr: Adam learning rate.
        real_fraction: share of each batch taken from real images (0: generated only).
        latent_loss: ``"l1"`` (CRG) or ``"l2"`` between predicted and true ``ws`` of generated images.
        latent_weight, l2_weight, ssim_weight, feature_weight, delta_weight: loss weights.
        style_mixing: probability that a generated sample mixes two w at a random layer.
        seed: seeds initialisation and every step.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    batch: int = 16
    lr: float = 2.5e-3
    real_fraction: float = 0.5
    latent_loss: str = "l1"
    latent_weight: float = 1.0
    l2_weight: float = 1.0
    ssim_weight: float = 1.0
    feature_weight: float = 0.5
    delta_weight: float = 0.01
    style_mixing: float = 0.5
    seed: int = 0

    def __post_init__(self) -> None:
        if self.batch < 1:
            raise ValueError(f"batch must be positive, got {self.batch}")
        if self.lr <= 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        for name in ("real_fraction", "style_mixing"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("latent_weight", "l2_weight", "ssim_weight", "feature_weight", "delta_weight"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.latent_loss not in LATENT_LOSSES:
            close = difflib.get_close_matches(str(self.latent_loss), LATENT_LOSSES, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"latent_loss must be one of {LATENT_LOSSES}, got {self.latent_loss!r}{hint}")

    @property
    def n_real(self) -> int:
        """Real images per batch."""
        return round(self.batch * self.real_fraction)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> EncoderTrainingConfig:
        d = dict(d)
        d["encoder"] = EncoderConfig(**d["encoder"])
        return cls(**d)


# ---- loss terms, one value per sample -----------------------------------------------------------------
def latent_distance(ws_hat: torch.Tensor, ws: torch.Tensor, kind: str = "l1") -> torch.Tensor:
    """Mean absolute (``l1``) or squared (``l2``) difference of W+ codes ``[N, L, D]`` -> ``[N]``."""
    if ws_hat.ndim != 3 or ws_hat.shape != ws.shape:
        raise ValueError(
            f"ws_hat and ws must be [N, L, D] and match, got {tuple(ws_hat.shape)} and {tuple(ws.shape)}"
        )
    diff = ws_hat - ws
    return (diff.abs() if kind == "l1" else diff.square()).mean(dim=(1, 2))


def delta_spread(ws: torch.Tensor) -> torch.Tensor:
    """e4e-style regulariser: mean squared deviation of each layer's latent from the layer mean, ``[N]``.

    Zero exactly when every layer holds the same w (the code lies in W rather than W+).
    """
    if ws.ndim != 3:
        raise ValueError(f"ws must be [N, num_ws, w_dim], got {tuple(ws.shape)}")
    return (ws - ws.mean(dim=1, keepdim=True)).square().mean(dim=(1, 2))


def image_terms(
    x_hat: torch.Tensor, x: torch.Tensor, discriminator: Discriminator | None = None
) -> dict[str, torch.Tensor]:
    """Per-sample reconstruction terms ``{"l2", "ssim" (1 - SSIM), "feat" (if D)}``, each ``[N]``."""
    if x_hat.shape != x.shape:
        raise ValueError(f"x_hat and x must match, got {tuple(x_hat.shape)} and {tuple(x.shape)}")
    terms = {"l2": (x_hat - x).square().mean(dim=(1, 2, 3)), "ssim": 1.0 - ssim(x_hat, x)}
    if discriminator is not None:
        terms["feat"] = feature_distance(discriminator, x_hat, x)
    return terms


# ---- the trainer --------------------------------------------------------------------------------------
class EncoderTrainer:
    """Owns the encoder and its optimizer, and frozen copies of G (and D); ``train_step()`` runs one step.

    Args:
        config: hyper-parameters; ``config.encoder`` must match the generator.
        generator: the generator to invert (use the EMA generator); copied, never modified.
        images: real training images, ``uint8 [N, C, R, R]``; required when ``real_fraction > 0``.
        discriminator: optional, for the feature distance; copied, never modified.
        device: where the networks run.

    Example:
        >>> config = EncoderTrainingConfig(EncoderConfig.for_generator(G.config))
        >>> trainer = EncoderTrainer(config, G, images=x)
        >>> for _ in range(100):
        ...     stats = trainer.train_step()
        >>> ws = trainer.encoder(img)
    """

    def __init__(
        self,
        config: EncoderTrainingConfig,
        generator: Generator,
        *,
        images: torch.Tensor | None = None,
        discriminator: Discriminator | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        c = config
        self.config, self.device = c, torch.device(device)
        self._check_networks(c.encoder, generator, discriminator)
        if c.n_real > 0:
            self._check_images(images, c.encoder)
        self.images = images
        self.G = copy.deepcopy(generator).to(self.device).eval().requires_grad_(False)
        self.D = (
            copy.deepcopy(discriminator).to(self.device).eval().requires_grad_(False)
            if discriminator is not None
            else None
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(c.seed, "init"))
            self.encoder = Encoder(c.encoder, w_avg=self.G.mapping.w_avg).to(self.device)
        self.opt = torch.optim.Adam(self.encoder.parameters(), lr=c.lr, betas=(0.9, 0.999))
        self.step = 0

    @staticmethod
    def _check_networks(ec: EncoderConfig, G: Generator, D: Discriminator | None) -> None:
        if not isinstance(G, Generator):
            raise TypeError(f"generator must be a Generator, got {type(G).__name__}")
        want = (G.img_resolution, G.img_channels, G.w_dim, G.num_ws)
        got = (ec.resolution, ec.channels, ec.w_dim, ec.num_ws)
        if want != got:
            raise ValueError(
                f"encoder config (resolution, channels, w_dim, num_ws) = {got} does not match the "
                f"generator's {want}; build it with EncoderConfig.for_generator(G.config)"
            )
        if D is not None:
            if not isinstance(D, Discriminator):
                raise TypeError(f"discriminator must be a Discriminator or None, got {type(D).__name__}")
            if (D.config.resolution, D.config.channels) != (G.img_resolution, G.img_channels):
                raise ValueError(
                    f"discriminator sees {D.config.channels} x {D.config.resolution} px images, the "
                    f"generator makes {G.img_channels} x {G.img_resolution} px"
                )

    @staticmethod
    def _check_images(images: torch.Tensor | None, ec: EncoderConfig) -> None:
        expected = (ec.channels, ec.resolution, ec.resolution)
        if images is None:
            raise ValueError("images are required when real_fraction > 0 (or set real_fraction=0)")
        if images.dtype != torch.uint8 or images.ndim != 4 or tuple(images.shape[1:]) != expected:
            raise ValueError(
                f"images must be uint8 [N, {', '.join(map(str, expected))}], "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        if images.shape[0] < 1:
            raise ValueError("images is empty")

    @property
    def kimg(self) -> float:
        return self.step * self.config.batch / 1000.0

    # ---- batches --------------------------------------------------------------------------------
    @torch.no_grad()
    def generated(self, n: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` generator samples with known latents: ``(ws [n, num_ws, w_dim], x [n, C, R, R])``."""
        G = self.G
        z = torch.randn(2 * n, G.z_dim, generator=gen).to(self.device)
        mix = torch.rand(n, generator=gen) < self.config.style_mixing  # [n]
        cutoff = torch.randint(1, max(G.num_ws, 2), (n,), generator=gen)
        w = G.mapping(z)  # [2n, w_dim]
        ws, ws2 = G.broadcast(w[:n]), G.broadcast(w[n:])  # [n, num_ws, w_dim] each
        layer = torch.arange(G.num_ws).reshape(1, -1)  # [1, num_ws]
        take2 = (mix.reshape(-1, 1) & (layer >= cutoff.reshape(-1, 1))).to(self.device)  # [n, num_ws]
        ws = torch.where(take2.unsqueeze(-1), ws2, ws)
        return ws, G.synthesis(ws, noise_mode="const")

    def reals(self, n: int, gen: torch.Generator) -> torch.Tensor:
        """``n`` real images drawn with replacement, as float in [-1, 1]."""
        idx = torch.randint(len(self.images), (n,), generator=gen)
        return self.images[idx].to(self.device, torch.float32) / 127.5 - 1.0

    # ---- one step -------------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One Adam step on a batch of generated and real images. Returns the (unweighted) loss terms."""
        c = self.config
        gen = torch.Generator().manual_seed(derive_seed(c.seed, self.step))
        n_real = c.n_real
        n_gen = c.batch - n_real
        parts, ws = [], None
        if n_gen:
            ws, x_gen = self.generated(n_gen, gen)
            parts.append(x_gen)
        if n_real:
            parts.append(self.reals(n_real, gen))
        x = torch.cat(parts)  # [batch, C, R, R]: generated first

        self.encoder.train()
        self.opt.zero_grad(set_to_none=True)
        ws_hat = self.encoder(x)
        x_hat = self.G.synthesis(ws_hat, noise_mode="const")
        terms = image_terms(x_hat, x, self.D)
        loss = (c.l2_weight * terms["l2"] + c.ssim_weight * terms["ssim"]).mean()
        if "feat" in terms:
            loss = loss + c.feature_weight * terms["feat"].mean()
        spread = delta_spread(ws_hat)
        loss = loss + c.delta_weight * spread.mean()
        stats = {"delta": float(spread.detach().mean())}
        if ws is not None:
            latent = latent_distance(ws_hat[:n_gen], ws, c.latent_loss)
            # weighted by the generated share, so the per-sample mixing sets the balance
            loss = loss + c.latent_weight * latent.sum() / c.batch
            stats["latent"] = float(latent.detach().mean())
        loss.backward()
        self.opt.step()
        self.step += 1
        stats["loss"] = float(loss.detach())
        for name, value in terms.items():
            if n_gen:
                stats[f"{name}_gen"] = float(value[:n_gen].detach().mean())
            if n_real:
                stats[f"{name}_real"] = float(value[n_gen:].detach().mean())
        return stats

    # ---- checkpoints ----------------------------------------------------------------------------
    def save_checkpoint(self, path: str | Path, extra: dict | None = None) -> Path:
        """Encoder, Adam moments, step, config, and the frozen G (and D): enough to resume exactly."""
        tensors = {**prefixed("E", self.encoder), **prefixed("G", self.G)}
        if self.D is not None:
            tensors.update(prefixed("D", self.D))
        opt, opt_meta = flatten_optimizer("opt", self.opt.state_dict())
        meta = {
            "kind": CHECKPOINT_KIND,
            "step": self.step,
            "kimg": self.kimg,
            "config": self.config.to_dict(),
            "generator": self.G.config.to_dict(),
            "discriminator": self.D.config.to_dict() if self.D is not None else None,
            "opt": opt_meta,
            **(extra or {}),
        }
        return save_tensors(path, {**tensors, **opt}, meta)

    @classmethod
    def from_checkpoint(
        cls, path: str | Path, *, images: torch.Tensor | None = None, device: str | torch.device = "cpu"
    ) -> EncoderTrainer:
        """Rebuild a trainer from :meth:`save_checkpoint`'s file; it continues exactly where it stopped."""
        tensors, meta = load_tensors(path)
        if meta.get("kind") != CHECKPOINT_KIND:
            raise InputError(f"not an LDEdit encoder checkpoint (kind {meta.get('kind')!r})", path)
        G = Generator(GeneratorConfig(**meta["generator"]))
        G.load_state_dict(unprefixed("G", tensors))
        D = None
        if meta.get("discriminator"):
            D = Discriminator(DiscriminatorConfig(**meta["discriminator"]))
            D.load_state_dict(unprefixed("D", tensors))
        config = EncoderTrainingConfig.from_dict(meta["config"])
        trainer = cls(config, G, images=images, discriminator=D, device=device)
        trainer.encoder.load_state_dict(unprefixed("E", tensors))
        trainer.opt.load_state_dict(unflatten_optimizer("opt", tensors, meta["opt"]))
        trainer.step = int(meta["step"])
        return trainer


def load_encoder(path: str | Path, *, device: str | torch.device = "cpu") -> Encoder:
    """The trained encoder (eval mode, no gradients) from an encoder checkpoint."""
    tensors, meta = load_tensors(path)
    if meta.get("kind") != CHECKPOINT_KIND:
        raise InputError(f"not an LDEdit encoder checkpoint (kind {meta.get('kind')!r})", path)
    encoder = Encoder(EncoderConfig(**meta["config"]["encoder"]))
    encoder.load_state_dict(unprefixed("E", tensors))
    return encoder.to(device).eval().requires_grad_(False)


def load_gan(
    path: str | Path, *, device: str | torch.device = "cpu"
) -> tuple[Generator, Discriminator, dict]:
    """The EMA generator and the discriminator of a GAN training checkpoint (``GanTrainer.save_checkpoint``).

    Returns:
        ``(G_ema, D, meta)``, both networks in eval mode without gradients.

    Raises:
        InputError: missing, unreadable, or not a GAN checkpoint.
    """
    tensors, meta = load_tensors(path)
    if meta.get("kind") != GAN_CHECKPOINT_KIND:
        raise InputError(f"not an LDEdit GAN checkpoint (kind {meta.get('kind')!r})", path)
    try:
        G = Generator(GeneratorConfig(**meta["config"]["generator"]))
        D = Discriminator(DiscriminatorConfig(**meta["config"]["discriminator"]))
        G.load_state_dict(unprefixed("G_ema", tensors))
        D.load_state_dict(unprefixed("D", tensors))
    except (KeyError, TypeError, RuntimeError) as exc:
        raise InputError(f"GAN checkpoint does not match its stored config ({exc})", path) from exc
    return G.to(device).eval().requires_grad_(False), D.to(device).eval().requires_grad_(False), meta
