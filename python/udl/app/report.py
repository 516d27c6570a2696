"""`report.html` of a reproduction: one self-contained page (figures embedded as data URIs,
no outside resources) with a table of every figure of merit beside the reports' own numbers,
then each stage's figures. Written from the run folder alone, so `udl report` can redo it."""

from __future__ import annotations

import base64
import datetime
import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from udl.app.plan import SETTINGS_FILE, STAGE_TITLES
from udl.app.runs import RunFolder

__all__ = ["FIGURES_OF_MERIT", "Merit", "write_report"]


@dataclass(frozen=True)
class Merit:
    """One row of the figures-of-merit table."""

    stage: str
    key: str
    label: str
    form: str  # a format spec for the value
    #: dataset -> (the reports' number, which report and how)
    reported: dict[str, tuple[str, str]] = field(default_factory=dict)


FIGURES_OF_MERIT: tuple[Merit, ...] = (
    Merit("tune", "best_val_loss", "Study: best validation MSE of a trial", ".5f"),
    Merit(
        "cae",
        "test_mse",
        "CAE test MSE (best trial's settings, retrained)",
        ".5f",
        {"fashion-mnist": ("0.0166", "report 002: Optuna's best CAE, latent 14, test loss")},
    ),
    Merit("cae", "pca_test_mse", "PCA test MSE, as many components as the CAE's latent", ".5f"),
    Merit(
        "cae",
        "best_val_mse",
        "CAE validation MSE",
        ".5f",
        {"mnist": ("0.0135", "report 003: best of its lr x latent grid, 6-fold CV, latent 10")},
    ),
    Merit("cae", "latent_dim", "CAE latent dimension chosen by the study", "d"),
    Merit(
        "classifiers",
        "finetuned_accuracy",
        "Fine-tuned classifier test accuracy (frozen convolutions, linear head)",
        ".2%",
        {
            "fashion-mnist": ("87% / 78%", "report 000 (linear head) / report 002 (two-layer)"),
            "mnist": ("98.37%", "report 003: the encoder as the classifier"),
        },
    ),
    Merit("classifiers", "scratch_accuracy", "The same network trained from scratch", ".2%"),
    Merit(
        "classifiers",
        "finetuned_seconds_per_epoch",
        "Fine-tuning: seconds per epoch",
        ".1f",
    ),
    Merit("classifiers", "scratch_seconds_per_epoch", "From scratch: seconds per epoch", ".1f"),
    Merit("denoiser", "corrupted_psnr", "Denoiser: PSNR of the corrupted test images (dB)", ".2f"),
    Merit("denoiser", "denoised_psnr", "Denoiser: PSNR of its output (dB)", ".2f"),
    Merit("denoiser", "psnr_gain", "Denoiser: PSNR gain (dB)", "+.2f"),
    Merit("vae", "test_mse", "VAE test MSE through the means (latent 2)", ".5f"),
    Merit(
        "quality", "real_floor_fid", "Fréchet distance: real test vs real training images", ".3g"
    ),
    Merit("quality", "vae_fid", "Fréchet distance: VAE samples", ".3g"),
    Merit("quality", "gan_fid", "Fréchet distance: GAN samples", ".3g"),
    Merit("quality", "real_floor_inception_score", "Inception Score: real images", ".3g"),
    Merit("quality", "vae_inception_score", "Inception Score: VAE samples", ".3g"),
    Merit("quality", "gan_inception_score", "Inception Score: GAN samples", ".3g"),
    Merit("quality", "feature_network_accuracy", "Feature network's test accuracy (FID/IS)", ".2%"),
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border-bottom: 1px solid #ccc; padding: 0.3em 0.8em; text-align: left; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
figure { display: inline-block; margin: 0.5em; vertical-align: top; max-width: 46%; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 0.9em; color: #555; }
.missing { color: #a00; }
"""


def write_report(run: RunFolder) -> Path:
    """Writes `report.html` into `run` from its stages and figures; returns its path.

    Raises:
        FileNotFoundError: if `run` holds no reproduction (no stages/settings.json).
    """
    settings_path = run.file(SETTINGS_FILE)
    if not settings_path.is_file():
        raise FileNotFoundError(f"{run.path} holds no `udl reproduce` run (no {settings_path})")
    settings = json.loads(settings_path.read_text(encoding="utf-8"))
    stages = {
        name: json.loads(run.file(f"stages/{name}.json").read_text(encoding="utf-8"))
        for name in STAGE_TITLES
        if run.file(f"stages/{name}.json").is_file()
    }
    return run.write_text("report.html", _page(run, settings, stages))


def _page(run: RunFolder, settings: dict, stages: dict) -> str:
    from udl import __version__

    dataset = settings["dataset"]
    title = f"udl reproduction: {dataset} ({settings['budget']} budget)"
    total = sum(s.get("seconds", 0.0) for s in stages.values())
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>udl {html.escape(__version__)}, seed {settings['seed']}, "
        f"{len(stages)} of {len(STAGE_TITLES)} stages done in {total / 60:.1f} minutes; written "
        f"{datetime.datetime.now():%Y-%m-%d %H:%M} on {html.escape(_machine())}.</p>",
        f"<p>Made by <code>{html.escape(_command(settings))}</code>; "
        "<code>udl report RUN_DIR</code> rewrites this page from its run folder.</p>",
        "<h2>Figures of merit</h2>",
        _merit_table(dataset, stages),
    ]
    for name, stage_title in STAGE_TITLES.items():
        parts.append(f'<h2 id="stage-{name}">{html.escape(stage_title)}</h2>')
        stage = stages.get(name)
        if stage is None:
            parts.append('<p class="missing">Not run yet: rerun `udl reproduce` to finish.</p>')
            continue
        parts.append(_stage_facts(stage))
        for figure in stage.get("figures", []):
            parts.append(_figure(run, figure))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _command(settings: dict[str, Any]) -> str:
    words = ["udl reproduce", f"--dataset {settings['dataset']}", f"--budget {settings['budget']}"]
    words.append(f"--seed {settings['seed']}")
    if settings.get("subset") is not None:
        words.append(f"--subset {settings['subset']}")
    return " ".join(words)


def _machine() -> str:
    import platform

    import torch

    return f"{platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def _merit_table(dataset: str, stages: dict) -> str:
    rows = [
        '<table id="figures-of-merit">',
        "<tr><th>figure of merit</th><th>udl</th><th>the reports</th><th>source</th></tr>",
    ]
    for merit in FIGURES_OF_MERIT:
        value = stages.get(merit.stage, {}).get("metrics", {}).get(merit.key)
        shown = "not run" if value is None else format(value, merit.form)
        reported, source = merit.reported.get(dataset, ("—", ""))
        rows.append(
            f"<tr><td>{html.escape(merit.label)}</td><td class=number>{html.escape(shown)}</td>"
            f"<td class=number>{html.escape(reported)}</td><td>{html.escape(source)}</td></tr>"
        )
    rows.append("</table>")
    return "\n".join(rows)


def _stage_facts(stage: dict[str, Any]) -> str:
    facts = [f"{stage.get('seconds', 0.0):.0f} s"]
    for key in ("best_params", "params", "corruption"):
        if key in stage:
            settings = ", ".join(f"{k}={_short(v)}" for k, v in stage[key].items())
            facts.append(f"{key.replace('_', ' ')}: {settings}")
    if stage.get("stop_reason"):
        facts.append(f"stopped: {stage['stop_reason']}")
    return "<p>" + html.escape("; ".join(facts)) + "</p>"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _figure(run: RunFolder, figure: dict[str, str]) -> str:
    caption = html.escape(figure["caption"])
    path = run.file(figure["file"])
    if not path.is_file():
        return f'<p class="missing">Missing figure {html.escape(figure["file"])}</p>'
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img src="data:image/png;base64,{data}" alt="{caption}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )
