"""Link-LR: latent directions that move a region of interest (ROI) and leave the background alone.

At a base latent ``w`` the generator's Jacobian ``J = d G.synthesis(ws(v)) / dv`` (one row per output
pixel and channel, one column per latent dimension) gives two Gram matrices,

    M_f = J^T diag(m) J / sum(m)      energy that a direction puts into the ROI m,
    M_b = J^T diag(b) J / sum(b)      and into the background b = 1 - dilate(m, margin),

and the ROI-linked directions are the top eigenvectors of ``M_f u = lambda (M_b + eps tr(M_b)/D I) u``
(method.md section 2; docs/link-lr.md). ``J`` is built in forward mode, ``D`` Jacobian-vector
products batched with ``torch.func.vmap``, instead of one backward pass per pixel.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import jvp, vmap

from ldedit_core.progress import ProgressCallback, check_cancel, report

STAGE = "link-lr"
_GRAM_BLOCK = 65536  # Jacobian rows converted to float64 at a time when forming the Gram matrices


@dataclass(eq=False)
class LinkLR:
    """ROI-linked latent directions at one base latent.

    Attributes:
        directions: ``[k, D]`` unit-norm float32 directions, largest ratio first.
        ratios: ``[k]`` eigenvalues ``lambda_i`` (ROI-to-background energy ratios), descending.
        layers: the W+ layer range ``(start, stop)`` a direction is added to; ``None`` means all layers.
        roi: ``[R, R]`` the ROI weights ``m`` used (float32).
        background: ``[R, R]`` the background weights ``b = 1 - dilate(roi > 0, margin)`` (float32).
    """

    directions: torch.Tensor
    ratios: torch.Tensor
    layers: tuple[int, int] | None
    roi: torch.Tensor
    background: torch.Tensor

    def __post_init__(self) -> None:
        if self.directions.ndim != 2 or self.ratios.shape != self.directions.shape[:1]:
            raise ValueError(
                f"directions must be [k, D] and ratios [k], got {tuple(self.directions.shape)} "
                f"and {tuple(self.ratios.shape)}"
            )

    @property
    def k(self) -> int:
        """Number of directions."""
        return self.directions.shape[0]


# --- inputs ---------------------------------------------------------------------------------------------


def _check_generator(G: Any) -> None:
    for name in ("synthesis", "num_ws", "w_dim", "img_resolution"):
        if not hasattr(G, name):
            raise TypeError(f"G must be a generator with .{name} (see ldedit_core.models.Generator)")


def _device_dtype(G: nn.Module) -> tuple[torch.device, torch.dtype]:
    for t in G.parameters():
        return t.device, t.dtype
    return torch.device("cpu"), torch.float32


def _check_layers(layers: tuple[int, int] | None, num_ws: int) -> tuple[int, int]:
    if layers is None:
        return 0, num_ws
    ok = (
        isinstance(layers, Sequence)
        and len(layers) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) for i in layers)
        and 0 <= layers[0] < layers[1] <= num_ws
    )
    if not ok:
        raise ValueError(
            f"layers must be None or a (start, stop) range with 0 <= start < stop <= num_ws={num_ws}, "
            f"got {layers!r}"
        )
    return int(layers[0]), int(layers[1])


def _check_positive_int(name: str, value: Any, low: int = 1, high: int | None = None) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high and value > high):
        expected = f"an integer >= {low}" + (f" and <= {high}" if high else "")
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return value


def _base_ws(G: nn.Module, w: torch.Tensor) -> torch.Tensor:
    """``w`` as ``[1, num_ws, D]`` on G's device and dtype (detached)."""
    if not isinstance(w, torch.Tensor):
        raise TypeError(f"w must be a torch.Tensor, got {type(w).__name__}")
    num_ws, dim = G.num_ws, G.w_dim
    shape = tuple(w.shape)
    if shape in ((1, dim), (1, num_ws, dim)):  # a batch of one
        w, shape = w[0], shape[1:]
    if shape == (dim,):
        w = w.unsqueeze(0).expand(num_ws, dim)
    elif shape != (num_ws, dim):
        raise ValueError(f"w must have shape [{dim}] (W) or [{num_ws}, {dim}] (W+), got {tuple(w.shape)}")
    if not torch.isfinite(w).all():
        raise ValueError("w contains NaN or infinite values")
    device, dtype = _device_dtype(G)
    return w.detach().to(device=device, dtype=dtype).unsqueeze(0)


def _layer_selector(num_ws: int, layers: tuple[int, int], like: torch.Tensor) -> torch.Tensor:
    """``[num_ws, 1]``: 1 on the edited layers, 0 elsewhere."""
    sel = torch.zeros(num_ws, 1, device=like.device, dtype=like.dtype)
    sel[layers[0] : layers[1]] = 1
    return sel


def shift_ws(
    G: nn.Module, w: torch.Tensor, v: torch.Tensor, *, layers: tuple[int, int] | None = None
) -> torch.Tensor:
    """The edited W+ latents: ``base + v`` on the layers in ``layers``, ``base`` on the others.

    Args:
        G: the generator.
        w: base latent, ``[D]`` (broadcast to every layer) or ``[num_ws, D]`` (W+).
        v: offset, ``[D]`` or ``[N, D]`` (for example ``alphas[:, None] * direction``).
        layers: the W+ layer range ``(start, stop)`` to add ``v`` to; ``None`` = all layers.

    Returns:
        ``[N, num_ws, D]`` latents for ``G.synthesis`` (``N = 1`` for a single ``v``).
    """
    _check_generator(G)
    base = _base_ws(G, w)
    span = _check_layers(layers, G.num_ws)
    v = torch.as_tensor(v).to(device=base.device, dtype=base.dtype)
    if v.ndim == 1:
        v = v.unsqueeze(0)
    if v.ndim != 2 or v.shape[1] != G.w_dim:
        raise ValueError(f"v must have shape [{G.w_dim}] or [N, {G.w_dim}], got {tuple(v.shape)}")
    return base + _layer_selector(G.num_ws, span, base) * v[:, None, :]


def _check_roi(roi: Any, resolution: int, device: torch.device) -> torch.Tensor:
    roi = torch.as_tensor(roi)
    if tuple(roi.shape) != (resolution, resolution):
        raise ValueError(
            f"roi must have shape [{resolution}, {resolution}] (the generator's resolution), "
            f"got {tuple(roi.shape)}"
        )
    if roi.dtype == torch.bool:
        m = roi.float()
    elif roi.is_floating_point():
        m = roi.float()
        if not torch.isfinite(m).all() or m.min() < 0 or m.max() > 1:
            raise ValueError(
                f"roi values must lie in [0, 1], got min {m.min().item():g}, max {m.max().item():g}"
            )
    else:
        raise TypeError(f"roi must be a bool or floating-point tensor, got {roi.dtype}")
    if not (m > 0).any():
        raise ValueError("roi is empty: no pixel is > 0")
    return m.to(device)


def background_mask(roi: torch.Tensor, margin: int) -> torch.Tensor:
    """``1 - dilate(roi > 0, margin)``: the background, with a seam of ``margin`` pixels around the ROI.

    Args:
        roi: ``[R, R]`` ROI, bool or soft weights in [0, 1]; every pixel > 0 counts as inside.
        margin: dilation radius in pixels (a ``2 * margin + 1`` square); 0 = no seam.

    Returns:
        ``[R, R]`` float32 background weights in {0, 1}, on ``roi``'s device.

    Example:
        >>> roi = torch.zeros(8, 8); roi[3, 3] = 0.5
        >>> int(background_mask(roi, 1).sum())   # 64 - a 3x3 square
        55
    """
    roi = torch.as_tensor(roi)
    if roi.ndim != 2:
        raise ValueError(f"roi must be a 2-D [R, R] mask, got shape {tuple(roi.shape)}")
    margin = _check_positive_int("margin", margin, low=0)
    inside = (roi > 0).float()[None, None]
    if margin:
        inside = F.max_pool2d(inside, kernel_size=2 * margin + 1, stride=1, padding=margin)
    return 1.0 - inside[0, 0]


# --- the Jacobian ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _eval_mode(G: nn.Module) -> Iterator[None]:
    """Put ``G`` in eval mode for the duration, then give every submodule its own mode back."""
    modes = [(m, m.training) for m in G.modules()]
    G.eval()
    try:
        yield
    finally:
        for m, training in modes:
            m.training = training


def _flat_synthesis(G: nn.Module, base: torch.Tensor, sel: torch.Tensor, noise_mode: str):
    """``v [D] -> G.synthesis(base + sel * v)`` flattened to ``[C * R * R]`` (channel-major)."""

    def f(v: torch.Tensor) -> torch.Tensor:
        return G.synthesis(base + sel * v, noise_mode=noise_mode).reshape(-1)

    return f


def _jacobian_t(
    G: nn.Module,
    w: torch.Tensor,
    layers: tuple[int, int] | None,
    chunk: int,
    noise_mode: str,
    on_chunk: Any = None,
    cancel: Any = None,
) -> torch.Tensor:
    """``J^T``, ``[D, C * R * R]``: one forward-mode JVP per latent basis vector, ``chunk`` at a time."""
    _check_generator(G)
    base = _base_ws(G, w)
    span = _check_layers(layers, G.num_ws)
    chunk = _check_positive_int("chunk", chunk)
    f = _flat_synthesis(G, base, _layer_selector(G.num_ws, span, base), noise_mode)
    dim = G.w_dim
    basis = torch.eye(dim, device=base.device, dtype=base.dtype)
    zero = torch.zeros(dim, device=base.device, dtype=base.dtype)
    push = vmap(lambda t: jvp(f, (zero,), (t,))[1])  # [n, D] tangents -> [n, P] columns of J
    jt = None
    with torch.no_grad(), _eval_mode(G):
        for start in range(0, dim, chunk):
            check_cancel(cancel)
            cols = push(basis[start : start + chunk])
            if jt is None:
                jt = torch.empty(dim, cols.shape[1], device=cols.device, dtype=cols.dtype)
            jt[start : start + cols.shape[0]] = cols
            if on_chunk is not None:
                on_chunk(min(start + chunk, dim), dim)
    return jt


def latent_jacobian(
    G: nn.Module,
    w: torch.Tensor,
    *,
    layers: tuple[int, int] | None = None,
    chunk: int = 32,
    noise_mode: str = "const",
) -> torch.Tensor:
    """Jacobian of the image w.r.t. a latent offset ``v`` added to the layers in ``layers``, forward mode.

    ``D / chunk`` batched forward passes (``torch.func.jvp`` under ``vmap``, ``chunk`` basis vectors at a
    time, which bounds memory to about ``chunk`` forward passes with tangents).

    Args:
        G: the generator; its parameters get no gradients and its train/eval modes are left as they were.
        w: base latent, ``[D]`` (broadcast to every layer) or ``[num_ws, D]`` (W+, e.g. from inversion).
        layers: the W+ layer range ``(start, stop)`` the offset is added to; ``None`` = all layers.
        chunk: latent directions pushed forward per batch.
        noise_mode: passed to ``G.synthesis``; ``"const"`` makes the image a pure function of ``ws``.

    Returns:
        ``J``, ``[C * R * R, D]`` in G's dtype (float32 for the shipped generators), on G's device; row
        ``c * R * R + y * R + x`` is output channel ``c``, pixel ``(y, x)``. A transposed view.

    Example:
        >>> J = latent_jacobian(G, G.mapping(torch.randn(1, G.z_dim))[0])   # [C*R*R, w_dim]
    """
    return _jacobian_t(G, w, layers, chunk, noise_mode).T


def jacobian_reverse_per_pixel(
    G: nn.Module,
    w: torch.Tensor,
    *,
    layers: tuple[int, int] | None = None,
    rows: Sequence[int] | None = None,
    noise_mode: str = "const",
) -> torch.Tensor:
    """The same Jacobian as :func:`latent_jacobian`, the naive way: one backward pass per output pixel.

    This is how LowRankGAN's code builds it; it is kept as a reference for tests and the benchmark.

    Args:
        G, w, layers, noise_mode: as in :func:`latent_jacobian`.
        rows: flat output indices (``c * R * R + y * R + x``) to compute; ``None`` = all of them.

    Returns:
        ``[len(rows), D]`` (``[C * R * R, D]`` by default).
    """
    _check_generator(G)
    base = _base_ws(G, w)
    span = _check_layers(layers, G.num_ws)
    f = _flat_synthesis(G, base, _layer_selector(G.num_ws, span, base), noise_mode)
    with torch.enable_grad(), _eval_mode(G):
        v = torch.zeros(G.w_dim, device=base.device, dtype=base.dtype, requires_grad=True)
        out = f(v)
        index = range(out.shape[0]) if rows is None else rows
        jac = torch.empty(len(index), G.w_dim, device=base.device, dtype=base.dtype)
        for i, p in enumerate(index):
            (jac[i],) = torch.autograd.grad(out[p], v, retain_graph=True)
    return jac


# --- the generalized eigenproblem -----------------------------------------------------------------------


def _weighted_gram(jt: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``J^T diag(weights) J / sum(weights)`` in float64, without forming ``diag``; ``jt`` is ``[D, P]``."""
    dim, pixels = jt.shape
    gram = torch.zeros(dim, dim, device=jt.device, dtype=torch.float64)
    weights = weights.to(device=jt.device, dtype=torch.float64)
    for start in range(0, pixels, _GRAM_BLOCK):
        block = jt[:, start : start + _GRAM_BLOCK].double()
        gram += (block * weights[start : start + _GRAM_BLOCK]) @ block.T
    return gram / weights.sum()


def _generalized_eigh(a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenpairs of ``a u = lambda b u`` (both symmetric, ``b`` positive definite), descending, float64.

    Cholesky ``b = L L^T`` turns it into the ordinary ``(L^-1 a L^-T) y = lambda y`` with ``u = L^-T y``.
    Eigenvectors are returned as rows, scaled to unit Euclidean norm, each with its largest-magnitude
    component positive.
    """
    chol, info = torch.linalg.cholesky_ex(b)
    if info.item() != 0:
        raise ValueError(
            "the regularised background Gram matrix is not positive definite; use eps > 0 (e.g. 1e-3)"
        )
    x = torch.linalg.solve_triangular(chol, a, upper=False)  # L^-1 a
    c = torch.linalg.solve_triangular(chol, x.T, upper=False)  # L^-1 a L^-T (transposed; symmetric)
    values, y = torch.linalg.eigh((c + c.T) / 2)
    u = torch.linalg.solve_triangular(chol.T, y, upper=True)  # columns are the eigenvectors
    values, u = values.flip(0), u.flip(1).T
    u = u / u.norm(dim=1, keepdim=True)
    biggest = u.gather(1, u.abs().argmax(dim=1, keepdim=True))
    return values, u * torch.where(biggest < 0, -1.0, 1.0).to(u.dtype)


def link_lr(
    G: nn.Module,
    w: torch.Tensor,
    roi: torch.Tensor,
    *,
    k: int = 10,
    margin: int = 2,
    eps: float = 1e-3,
    layers: tuple[int, int] | None = None,
    chunk: int = 32,
    progress: ProgressCallback | None = None,
    cancel: Any = None,
) -> LinkLR:
    """The ``k`` latent directions that move the ROI most relative to the background (Link-LR).

    Solves ``M_f u = lambda (M_b + eps * tr(M_b) / D * I) u`` (float64 Cholesky + ``eigh``) where ``M_f``,
    ``M_b`` are the ROI- and background-weighted Gram matrices of :func:`latent_jacobian` at ``w``. Both are
    normalised by their total weight (summed over the image channels), so ``lambda`` is the ratio of mean
    squared change per ROI pixel to mean squared change per background pixel.

    Args:
        G: the generator; left untouched (no gradients, train/eval modes restored).
        w: base latent, ``[D]`` (W) or ``[num_ws, D]`` (W+, e.g. from inversion).
        roi: ``[R, R]`` at the generator's resolution, bool or float weights in [0, 1].
        k: number of directions, 1..D.
        margin: seam in pixels around the ROI that counts as neither ROI nor background.
        eps: Tikhonov regularisation of ``M_b``, relative to its mean eigenvalue ``tr(M_b) / D``.
        layers: W+ layer range ``(start, stop)`` the directions are added to; ``None`` = all layers.
        chunk: latent directions per batched forward-mode pass (memory vs. speed).
        progress: ``progress("link-lr", fraction, message)`` after each chunk.
        cancel: an Event-like or callable; checked between chunks (raises ``Cancelled``).

    Returns:
        A :class:`LinkLR` with float32 tensors on G's device.

    Raises:
        ValueError: a bad ``roi`` (shape, values, empty, or no background left after the dilation) or a bad
            ``w``, ``k``, ``margin``, ``eps``, ``layers`` or ``chunk``.
        Cancelled: ``cancel`` asked to stop.

    Example:
        >>> G = load_bundle("default").generator
        >>> roi = torch.zeros(64, 64); roi[20:36, 8:24] = 1
        >>> w = G.mapping(torch.randn(1, G.z_dim))[0]
        >>> found = link_lr(G, w, roi, k=5)
        >>> image = G.synthesis(shift_ws(G, w, 3.0 * found.directions[0]))   # the ROI moved along u_1
    """
    _check_generator(G)
    dim, resolution = G.w_dim, G.img_resolution
    k = _check_positive_int("k", k, high=dim)
    margin = _check_positive_int("margin", margin, low=0)
    span = None if layers is None else _check_layers(layers, G.num_ws)
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or not 0 <= eps < float("inf"):
        raise ValueError(f"eps must be a finite number >= 0, got {eps!r}")
    device, _ = _device_dtype(G)
    m = _check_roi(roi, resolution, device)
    b = background_mask(m, margin)
    if not (b > 0).any():
        raise ValueError(
            f"no background left: the roi dilated by margin={margin} covers the whole "
            f"{resolution}x{resolution} image; use a smaller roi or margin"
        )

    def on_chunk(done: int, total: int) -> None:
        report(progress, STAGE, 0.95 * done / total, f"Jacobian: {done}/{total} latent directions")

    report(progress, STAGE, 0.0, "Jacobian")
    jt = _jacobian_t(G, w, layers, chunk, "const", on_chunk, cancel)
    check_cancel(cancel)
    channels = jt.shape[1] // (resolution * resolution)
    m_f = _weighted_gram(jt, m.flatten().repeat(channels))
    m_b = _weighted_gram(jt, b.flatten().repeat(channels))
    del jt
    trace = torch.trace(m_b).item()
    if not trace > 0:
        raise ValueError("the background does not change along any latent direction (tr(M_b) = 0)")
    reg = m_b + (eps * trace / dim) * torch.eye(dim, dtype=torch.float64, device=m_b.device)
    values, vectors = _generalized_eigh(m_f.cpu(), reg.cpu())
    report(progress, STAGE, 1.0, f"{k} directions")
    return LinkLR(
        directions=vectors[:k].to(device=device, dtype=torch.float32),
        ratios=values[:k].to(device=device, dtype=torch.float32),
        layers=span,
        roi=m,
        background=b,
    )
