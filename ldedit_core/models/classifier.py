"""Multi-label disease classifiers (MONAI DenseNet / ResNet) for the guide and the independent evaluator.

A classifier maps images ``[N, 1, R, R]`` in [-1, 1] (the generator's output range) to one logit per disease,
so the guide can be applied to generator images directly and differentiated with respect to them. Its
penultimate features ``[N, F]`` (after global average pooling) serve FID and the classifier two-sample test.

Architectures (all built with random weights; nothing is downloaded):

* ``"densenet121"``: MONAI ``DenseNet121`` (2-D), the issue's default guide.
* ``"densenet-small"``: a MONAI ``DenseNet`` with three short blocks and growth rate 16; fast on a CPU.
* ``"resnet18"``, ``"resnet10"``: MONAI ``ResNet`` (2-D, stride-2 stem), a different family for the evaluator.

Example:
    >>> model = build_classifier(ClassifierConfig(arch="densenet-small", resolution=64))
    >>> logits = model(torch.zeros(2, 1, 64, 64))        # [2, 4]
    >>> feats = classifier_features(model, torch.zeros(2, 1, 64, 64))  # [2, model.num_features]
"""

from __future__ import annotations

import difflib
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from ldedit_core.phantoms import DISEASES

#: Architecture names accepted by :class:`ClassifierConfig`.
ARCHITECTURES = ("densenet121", "densenet-small", "resnet18", "resnet10")
#: Smallest image side every architecture reduces to at least 1 pixel (five stride-2 stages).
MIN_RESOLUTION = 32

_DENSENET_SMALL = {"init_features": 32, "growth_rate": 16, "block_config": (4, 8, 8), "bn_size": 4}


@dataclass(frozen=True)
class ClassifierConfig:
    """Architecture of a disease classifier; stored as JSON next to its weights.

    Args:
        arch: one of :data:`ARCHITECTURES`.
        diseases: canonical disease names (from ``ldedit_core.phantoms.DISEASES``), one logit each, in order.
        in_channels: image channels (1 for radiographs).
        resolution: image side the classifier is trained on and accepts (at least 32).
        dropout: dropout probability (DenseNet layers; before the linear head for ResNets).
    """

    arch: str = "densenet-small"
    diseases: tuple[str, ...] = field(default=DISEASES)
    in_channels: int = 1
    resolution: int = 64
    dropout: float = 0.0

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            close = difflib.get_close_matches(str(self.arch), ARCHITECTURES, n=1, cutoff=0.4)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(
                f"arch: unknown architecture {self.arch!r} (expected one of {ARCHITECTURES}){hint}"
            )
        diseases = tuple(self.diseases) if not isinstance(self.diseases, str) else (self.diseases,)
        unknown = [d for d in diseases if d not in DISEASES]
        if not diseases or unknown or len(set(diseases)) != len(diseases):
            raise ValueError(
                f"diseases: expected distinct names from {DISEASES}, got {list(diseases)}"
                + (f" (unknown: {unknown})" if unknown else "")
            )
        object.__setattr__(self, "diseases", diseases)
        if not isinstance(self.in_channels, int) or self.in_channels < 1:
            raise ValueError(f"in_channels: expected a positive integer, got {self.in_channels!r}")
        if not isinstance(self.resolution, int) or self.resolution < MIN_RESOLUTION:
            raise ValueError(f"resolution: expected an integer >= {MIN_RESOLUTION}, got {self.resolution!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {self.dropout!r}")

    def to_dict(self) -> dict:
        """JSON-able form (``diseases`` as a list); ``ClassifierConfig(**d)`` rebuilds it."""
        d = asdict(self)
        d["diseases"] = list(self.diseases)
        return d


class DiseaseClassifier(nn.Module):
    """A feature trunk (image -> ``[N, F]`` pooled features) and a linear head (-> ``[N, D]`` logits).

    Args:
        config: the architecture.
        trunk: module mapping ``[N, C, R, R]`` to ``[N, F]``.
        num_features: ``F``.
    """

    def __init__(self, config: ClassifierConfig, trunk: nn.Module, num_features: int) -> None:
        super().__init__()
        self.config = config
        self.num_features = num_features
        self.trunk = trunk
        self.dropout = nn.Dropout(config.dropout) if config.arch.startswith("resnet") else nn.Identity()
        self.head = nn.Linear(num_features, len(config.diseases))
        nn.init.zeros_(self.head.bias)

    def _check(self, x: torch.Tensor) -> None:
        c = self.config
        if x.ndim != 4 or x.shape[1] != c.in_channels or tuple(x.shape[2:]) != (c.resolution,) * 2:
            raise ValueError(
                f"x: expected images [N, {c.in_channels}, {c.resolution}, {c.resolution}] in [-1, 1], "
                f"got shape {tuple(x.shape)}"
            )

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[N, F]`` of images ``[N, C, R, R]`` in [-1, 1]."""
        self._check(x)
        return self.trunk(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, len(diseases)]`` of images ``[N, C, R, R]`` in [-1, 1]."""
        return self.head(self.dropout(self.features(x)))


def classifier_features(model: DiseaseClassifier, x: torch.Tensor) -> torch.Tensor:
    """Penultimate (globally pooled) features ``[N, F]`` of ``x``; differentiable like the logits.

    Raises:
        TypeError: if ``model`` is not a :class:`DiseaseClassifier`.
    """
    if not isinstance(model, DiseaseClassifier):
        raise TypeError(f"model: expected a DiseaseClassifier, got {type(model).__name__}")
    return model.features(x)


def build_classifier(config: ClassifierConfig | dict) -> DiseaseClassifier:
    """A new, randomly initialised classifier for ``config`` (or its :meth:`~ClassifierConfig.to_dict`).

    Raises:
        ValueError: on an invalid config (unknown architecture with a "did you mean", bad diseases, ...).
    """
    if isinstance(config, dict):
        config = ClassifierConfig(**config)
    if not isinstance(config, ClassifierConfig):
        raise TypeError(f"config: expected a ClassifierConfig or dict, got {type(config).__name__}")
    from monai.networks.nets import DenseNet, resnet10, resnet18

    c = config
    if c.arch.startswith("densenet"):
        kwargs = _DENSENET_SMALL if c.arch == "densenet-small" else {}
        net = DenseNet(
            spatial_dims=2, in_channels=c.in_channels, out_channels=1, dropout_prob=c.dropout, **kwargs
        )
        layers = net.class_layers
        trunk = nn.Sequential(net.features, layers.relu, layers.pool, layers.flatten)
        num_features = layers.out.in_features
    else:
        make = resnet18 if c.arch == "resnet18" else resnet10
        trunk = make(
            spatial_dims=2,
            n_input_channels=c.in_channels,
            conv1_t_stride=2,  # MONAI's default stem keeps full resolution; torchvision's halves it
            feed_forward=False,  # forward() ends with the pooled, flattened features
            num_classes=1,
        )
        num_features = trunk.layer4[-1].conv2.out_channels
    return DiseaseClassifier(c, trunk, num_features)
