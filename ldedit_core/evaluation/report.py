"""The evaluation report: ``evaluation.md`` (tables and targets), ``evaluation.json`` (every number), PNGs.

Example:
    >>> result = evaluate("default", n=10)
    >>> write_report(result, Path("docs/evaluation"))     # {"markdown": ..., "json": ..., ...}
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ldedit_core.evaluation.methods import Method
from ldedit_core.pipeline.figures import save_strip
from ldedit_core.pipeline.followups import EditOptions, guide_goal

MARKDOWN, JSON = "evaluation.md", "evaluation.json"


def json_ready(value: Any, digits: int = 6) -> Any:
    """``value`` with NaN and infinities as ``None``, numpy scalars as Python numbers (strict JSON) and
    floats rounded to ``digits`` decimals."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v, digits) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v, digits) for v in value]
    if isinstance(value, (np.floating, float)):
        return round(float(value), digits) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


_NUMBER_LIST = re.compile(
    r"\[\s+((?:-?[0-9.eE+-]+|null|true|false)(?:,\s+(?:-?[0-9.eE+-]+|null|true|false))*)\s+\]"
)


def dumps(value: Any) -> str:
    """Strict, indented JSON of :func:`json_ready` ``value``, each list of numbers on one line."""
    text = json.dumps(json_ready(value), indent=1, allow_nan=False)
    return _NUMBER_LIST.sub(lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]", text)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.0f} %"


def disease_table(disease: str, entry: Mapping) -> list[str]:
    """The Markdown table of one disease: a row per method, then LDEdit's native output row."""
    fid = entry["realism"]["fid"]
    lines = [
        f"### {disease}",
        "",
        "| method | median p0 | median pT | median Spearman | median background SSIM | "
        "median background change | mean ROI change | guide reached target | FID |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, s in entry["methods"].items():
        failed = f" ({s['failed']} failed)" if s["failed"] else ""
        lines.append(
            f"| {Method(name).label}{failed} | {_fmt(s['p0_median'])} | {_fmt(s['pT_median'])} | "
            f"{_fmt(s['spearman_median'])} | {_fmt(s['background_ssim_median'])} | "
            f"{_fmt(s['background_change_median'], 4)} | {_fmt(s['roi_change_mean'], 4)} | "
            f"{_pct(s['reached_fraction'])} | {_fmt(fid.get(name), 1)} |"
        )
    native = entry.get("native")
    if native:
        lines.append(
            f"| LDEdit, native output | {_fmt(native['p0_median'])} | {_fmt(native['pT_median'])} | "
            f"{_fmt(native['spearman_median'])} | bit-identical: {_pct(native['identical_fraction'])} | "
            f"0 outside the ROI | | {_pct(native.get('reached_fraction'))} | "
            f"{_fmt(fid.get('ldedit_native'), 1)} |"
        )
    realism = entry["realism"]
    lines += [
        "",
        f"FID reference: {realism['reference']} "
        f"(evaluator median p = {_fmt(realism['reference_p_median'])}); "
        f"the unedited sources score FID {_fmt(realism['fid_sources'], 1)}.",
        "",
    ]
    if entry["targets"]:
        lines += ["| target | value | goal | |", "| --- | --- | --- | --- |"]
        for t in entry["targets"]:
            lines.append(
                f"| {t['target']} | {_fmt(t['value'])} | {t['goal']} | {'met' if t['met'] else 'MISSED'} |"
            )
        lines.append("")
    return lines


def markdown(result: Mapping) -> str:
    """The whole report as Markdown."""
    c, m = result["config"], result["machine"]
    inv = result["inversion"]
    goal = guide_goal(c["target"], EditOptions().guide_margin, False)
    lines = [
        "# LDEdit evaluation",
        "",
        f"Bundle `{c['bundle']}`; {c['n']} held-out healthy phantoms "
        f"(seeds {c['seed']}-{c['seed'] + c['n'] - 1}, "
        f"{c['size']} px) per disease; {c['n_followups']} follow-ups to target {c['target']} "
        f"(the guide driven to {_fmt(goal)}, as the pipeline does); "
        f"every method walked by the same trajectory planner ({_trajectory_words(c['trajectory'])}). "
        f"Probabilities are the independent evaluator's, never the guide's. Inversion: median SSIM "
        f"{_fmt(inv['ssim_median'])}, PSNR {_fmt(inv['psnr_median'], 1)} dB. Population for the global "
        f"baselines: {c['population']} generator samples; Link-PCA statistics: {c['latent_stats']}.",
        "",
        f"Machine: {m['platform']}, {m['cpu_count']} CPUs, torch {m['torch']} with {m['torch_threads']} "
        f"thread(s), device {m['device']}{', ' + m['gpu'] if m.get('gpu') else ''}. "
        f"Total {result['timings_s']['total'] / 60:.1f} min.",
        "",
        "Columns: p0/pT evaluator probability of frame 0 and the last frame (generator frames for every "
        "method); Spearman of evaluator probability vs frame; background SSIM/change between the first and "
        "last generator frame outside the dilated ROI; ROI change = mean |change| inside the ROI (display "
        "units, [0, 1]); FID on evaluator features of the last frames vs held-out diseased phantoms. The "
        "native row is LDEdit's composited output at the phantom's resolution.",
        "",
    ]
    for disease, entry in result["diseases"].items():
        lines += disease_table(disease, entry)
    if "command" in result:
        lines += ["", f"Command: `{result['command']}`"]
    return "\n".join(lines) + "\n"


def _trajectory_words(trajectory: Mapping) -> str:
    if not trajectory:
        return "defaults"
    return ", ".join(f"{k} {v}" for k, v in trajectory.items())


def probability_plot(disease: str, entry: Mapping, target: float, path: Path) -> Path:
    """Evaluator probability vs frame: median and interquartile band per method, LDEdit native dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 3.4), dpi=120)
    for name, s in entry["methods"].items():
        band = s["curve"]
        if not band["median"]:
            continue
        x = np.arange(len(band["median"]))
        (line,) = ax.plot(x, band["median"], marker="o", markersize=2.5, label=Method(name).label)
        ax.fill_between(x, band["q25"], band["q75"], color=line.get_color(), alpha=0.15, linewidth=0)
    native = entry.get("native")
    if native and native["curve"]["median"]:
        ax.plot(
            native["curve"]["median"],
            color="black",
            linestyle="--",
            linewidth=1.2,
            label="LDEdit, native output",
        )
    ax.axhline(target, color="grey", linestyle=":", linewidth=0.8, label=f"target {target:g}")
    ax.set_xlabel("frame (0 = source)")
    ax.set_ylabel("evaluator probability")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{disease}: median and interquartile range over images", fontsize=9)
    ax.legend(fontsize=6, loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def write_report(result: Mapping, out: Path) -> dict[str, Path]:
    """Write ``evaluation.md``, ``evaluation.json`` and per disease a probability plot and an LDEdit strip.

    Returns:
        ``{"markdown": path, "json": path, "<disease>_plot": path, "<disease>_strip": path, ...}``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    for disease, entry in result["diseases"].items():
        files[f"{disease}_plot"] = probability_plot(
            disease, entry, result["config"]["target"], out / f"{disease}_probability.png"
        )
        example = result.get("examples", {}).get(disease)
        if example:
            labels = ["source"] + [f"p={p:.2f}" for p in example["probs"][1:]]
            labels[0] = f"source p={example['probs'][0]:.2f}"
            files[f"{disease}_strip"] = save_strip(
                example["frames"], out / f"{disease}_ldedit_strip.png", labels=labels, roi=example["roi"]
            )
    files["markdown"] = out / MARKDOWN
    files["json"] = out / JSON
    files["markdown"].write_text(markdown(result))
    payload = {k: v for k, v in result.items() if k not in ("examples", "files")}
    payload["files"] = {k: p.name for k, p in files.items()}
    files["json"].write_text(dumps(payload) + "\n")
    return files
