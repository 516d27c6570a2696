"""What each `udl` subcommand does: load the data, call the library, write the run folder.
The flags of the training parameters are made from the library functions' signatures.

This module is imported to build the parser (`udl --help`): at its top level it reads the
library's signatures only; torch, Optuna, matplotlib and pandas load when a command runs."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

import udl
from udl.app.options import add_parameters
from udl.app.progress import Progress, default_mode
from udl.app.runs import HISTORY_FILE, RunFolder, history_frame

log = logging.getLogger("udl")

# Parameters of the library functions that a command line does not carry.
_NOT_FLAGS = {
    "spec",
    "test",
    "corruption",
    "callback",
    "snapshot_images",
    "snapshot_epochs",
    "checkpoint",  # a run folder always has one
    "resume",  # --resume RUN_DIR instead
}
# Namespace entries that say how to run, not what to train.
_RUN_ONLY = {"command", "model", "config", "out", "quiet", "verbose", "resume"}
SHOWN_IMAGES = 8  # test images in the reconstruction figures
CHECKPOINT_FILE = "checkpoint.udl"


class Failure(Exception):
    """The run went wrong (e.g. diverged); its folder holds what was made. Exit code 1."""


# --- flags ---------------------------------------------------------------------------------------


def _training_group(parser: argparse.ArgumentParser) -> Any:
    return parser.add_argument_group("model and training")


def _flags(
    *functions: Callable[..., Any],
    skip: set[str] = _NOT_FLAGS,
    help_from: tuple[Callable[..., Any], ...] = (udl.train_autoencoder,),
    **defaults: Any,
) -> Callable[[argparse.ArgumentParser], None]:
    """A function that adds the flags of `functions`' parameters (and --resume) to a
    subcommand's parser."""

    def add(parser: argparse.ArgumentParser) -> None:
        group = _training_group(parser)
        names = add_parameters(group, functions, skip=skip, defaults=defaults, help_from=help_from)
        parser.set_defaults(_parameters=names)
        run_group = next(g for g in parser._action_groups if g.title == "run")
        run_group.add_argument(
            "--resume",
            type=Path,
            metavar="RUN_DIR",
            help="continue an interrupted run from its folder's checkpoint, with its "
            "config.toml (flags given here still win, e.g. more --epochs)",
        )

    return add


def _dae_flags(parser: argparse.ArgumentParser) -> None:
    _flags(udl.train_dae, udl.train_autoencoder)(parser)
    group = parser.add_argument_group("corruption (the denoiser's input)")
    group.add_argument(
        "--preset",
        default="report003",
        choices=["report003", "report004", "none"],
        help="report003: Gaussian noise sigma 0.3 and rotation up to 15 degrees; report004: "
        "half the pixels masked; none: only the flags below (default: report003)",
    )
    for field in dataclasses.fields(udl.Corruption):
        flag = "--" + field.name.replace("_", "-")
        text = f"{field.name.replace('_', ' ')} (overrides the preset's)"
        if field.type == "bool":
            group.add_argument(flag, action=argparse.BooleanOptionalAction, help=text)
        else:
            group.add_argument(flag, type=float, help=text)


def _finetune_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--autoencoder",
        type=Path,
        metavar="FILE",
        help="the trained autoencoder (a .udl file from `udl train cae` or `udl cv`); "
        "required (--resume takes it from the run's config.toml)",
    )
    _flags(udl.finetune_classifier, help_from=(udl.train_classifier, udl.train_autoencoder))(parser)


def _tune_flags(parser: argparse.ArgumentParser) -> None:
    from udl.tuning import SEARCHES

    group = parser.add_argument_group("study")
    group.add_argument("--search", default="report000", choices=sorted(SEARCHES))
    group.add_argument("--trials", type=int, help="finished trials the study should hold")
    group.add_argument("--epochs", type=int, default=5, help="maximum epochs per trial")
    group.add_argument("--batch-size", type=int, help="fixed batch size (default: the search's)")
    group.add_argument("--folds", type=int, help="k-fold CV per trial (default: the search's)")
    group.add_argument(
        "--storage",
        help="journal file or storage URL, e.g. postgresql://user@host/db "
        "(default: OUT/study.journal)",
    )
    group.add_argument("--study-name", help="study to create or join (default: the search's)")
    group.add_argument("--pruner", default="median", choices=["median", "hyperband", "none"])
    group.add_argument(
        "--objectives",
        default="val_loss",
        help="comma-separated: val_loss, then latent_dim and/or minutes for a Pareto front",
    )
    group.add_argument("--n-jobs", type=int, default=1, help="trials at once in this process")
    group.add_argument("--threads", type=int, help="LibTorch threads per trial")
    _device_flag(group)
    group.add_argument("--timeout", type=float, help="stop starting trials after SECONDS")
    group.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seeds sampler and training; workers joining one study need their own seeds",
    )
    group.add_argument("--no-figures", action="store_true", help="do not write the figures")


def _reproduce_flags(parser: argparse.ArgumentParser) -> None:
    from udl.app.plan import BUDGETS, REPORTS

    group = parser.add_argument_group("reproduction")
    group.add_argument(
        "--budget",
        default="quick",
        choices=list(BUDGETS),
        help="quick: every stage small, minutes; standard: every comparison at the reports' "
        "own settings, about 90 minutes on 2 cores; full: the reports' own epochs and trials "
        "(hours); smoke: seconds, to check the pipeline (default: quick)",
    )
    group.add_argument(
        "--reports",
        default="all",
        metavar="LIST",
        help=f"the reports to run, comma-separated from {', '.join(REPORTS)}; each runs on "
        "its own dataset; a folder may gain reports in later runs (default: all)",
    )
    group.add_argument("--seed", type=int, default=0, help="seeds every stage")
    group.add_argument("--threads", type=int, help="LibTorch threads (default: all cores)")
    _device_flag(group)


def _device_flag(group: argparse._ArgumentGroup) -> None:
    """--device, with the loop setting's default and help."""
    from udl.settings import LOOP_SETTINGS

    setting = LOOP_SETTINGS["device"][1]
    group.add_argument("--device", default=setting.default, help=f"{setting.help} (default: cpu)")


def _report_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a `udl reproduce` folder")


def _cv_flags(parser: argparse.ArgumentParser) -> None:
    _flags(
        udl.cross_validate,
        udl.train_cae,
        udl.train_autoencoder,
        skip=_NOT_FLAGS | {"val_fraction"},
    )(parser)


TRAIN_COMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "cae": (
        "convolutional autoencoder (reports 000, 002)",
        "Trains the convolutional autoencoder of reports 000 and 002 and tests it.",
        _flags(udl.train_cae, udl.train_autoencoder),
    ),
    "dae": (
        "denoising autoencoder (reports 003, 004)",
        "Trains the CAE to remove a corruption drawn afresh for every batch.",
        _dae_flags,
    ),
    "vae": (
        "variational autoencoder (reports 000, 002)",
        "Trains the convolutional VAE (report 000's defaults: nf 8, latent 2, beta 0.8).",
        _flags(udl.train_vae),
    ),
    "gan": (
        "GAN: fc (report 000), fc_leaky (report 003) or dcgan",
        "Trains a GAN on the training images and keeps samples of one fixed noise batch.",
        _flags(udl.train_gan, sample_epochs=()),
    ),
    "classifier": (
        "classifier from scratch (the fine-tuning baseline)",
        "Trains the CAE's encoder with a classification head from scratch.",
        _flags(udl.train_classifier),  # help texts: train_autoencoder's
    ),
}

COMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None], bool]] = {
    "finetune": (
        "fine-tune a trained autoencoder's encoder as a classifier",
        "Copies the encoder of --autoencoder, freezes what is asked, trains a head.",
        _finetune_flags,
        True,
    ),
    "cv": (
        "k-fold cross-validation of the CAE (report 001's framework)",
        "Trains one CAE per fold and reports the mean and spread of the validation loss.",
        _cv_flags,
        True,
    ),
    "tune": (
        "run or join an Optuna study (several workers may share one storage)",
        "Tunes the CAE with report 000's, 001's or 003's search; rerun to resume.",
        _tune_flags,
        True,
    ),
    "reproduce": (
        "the reports' whole study in one go, written up as report.html",
        "Each of the five reports' experiments on its own dataset, beside the report's "
        "numbers; writes OUT/report.html and OUT/comparisons.csv. Rerun with the same --out "
        "to resume after an interruption, or to add reports.",
        _reproduce_flags,
        True,
    ),
    "report": (
        "(re)write report.html of a `udl reproduce` folder",
        "Writes RUN_DIR/report.html from the stages the folder holds.",
        _report_flags,
        False,
    ),
}


def handler(args: argparse.Namespace) -> Callable[[argparse.Namespace], int]:
    if args.command == "train":
        return _TRAINERS[args.model]
    return {
        "finetune": _finetune,
        "cv": _cv,
        "tune": _tune,
        "reproduce": _reproduce,
        "report": _report,
    }[args.command]


# --- shared steps --------------------------------------------------------------------------------


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """The resolved settings of a run: every flag but those that say how to run it."""
    return {
        k: v
        for k, v in vars(args).items()
        if not k.startswith("_") and k not in _RUN_ONLY and not callable(v)
    }


def _parameters(args: argparse.Namespace) -> dict[str, Any]:
    return {name: getattr(args, name) for name in args._parameters}


def _checkpointing(args: argparse.Namespace, run: RunFolder) -> dict[str, Any]:
    """A run folder always holds the loop's checkpoint; --resume continues from it."""
    return {"checkpoint": run.file(CHECKPOINT_FILE), "resume": args.resume is not None}


def _trained(
    args: argparse.Namespace, run: RunFolder, what: str, train: Callable[..., Any], *data: Any
) -> Any:
    """`train(*data)` with the command's settings, its progress shown as `what`, checkpointed
    in the run folder (and resumed from it with --resume)."""
    with _epochs(args, run, what, args.epochs) as on_epoch:
        return train(*data, callback=on_epoch, **_parameters(args), **_checkpointing(args, run))


def _run_metrics(result: Any) -> dict[str, Any]:
    """What every training run reports: its best epoch and loss, time and size."""
    return {
        "best_epoch": result.best_epoch,
        "best_val_loss": result.best_val_loss,
        "seconds": result.seconds,
        "parameters": result.model.parameter_count,
    }


def _start(args: argparse.Namespace, name: str, *, resume: bool = False) -> RunFolder:
    command = " ".join(filter(None, [args.command, getattr(args, "model", None)]))
    resume = resume or getattr(args, "resume", None) is not None
    fresh = args.out is None or not Path(args.out).exists()
    run = RunFolder.create(args.out, name, resume=resume)
    if fresh:
        args._fresh_run = run
    handler = logging.FileHandler(run.file("run.log"), encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.setLevel(logging.INFO)
    log.addHandler(handler)
    if log.level > logging.INFO:  # --quiet keeps the console quiet, not the log file
        for h in log.handlers[:-1]:
            h.setLevel(log.level)
        log.setLevel(logging.INFO)
    if fresh or not run.file("config.toml").is_file():
        run.write_config(settings(args), command)
    else:
        run.defer_config(settings(args), command)
    log.info("udl %s: run folder %s", command, run.path)
    return run


def discard_if_unused(args: argparse.Namespace) -> None:
    """Removes the run folder this command made when a usage error stopped it before it
    held anything but its settings and log (nothing else is ever removed)."""
    run: RunFolder | None = getattr(args, "_fresh_run", None)
    if run is None or not run.path.is_dir():
        return
    if {p.name for p in run.path.iterdir()} <= {"config.toml", "run.log"}:
        for handler in log.handlers[:]:
            if isinstance(handler, logging.FileHandler):
                log.removeHandler(handler)
                handler.close()
        shutil.rmtree(run.path)


def _check_subset(args: argparse.Namespace) -> None:
    if args.subset is not None and args.subset < 2:
        raise ValueError(f"--subset must be >= 2, got {args.subset}")


def _data(args: argparse.Namespace) -> Any:
    _check_subset(args)
    data = udl.datasets.load(args.dataset, args.data_dir)
    if args.subset is not None:
        count = min(args.subset, len(data.train))
        data = dataclasses.replace(data, train=data.train.subset(np.arange(count)))
    log.info("%s: %d training, %d test images", data.name, len(data.train), len(data.test))
    return data


class _EpochWriter:
    """The epoch callback of a CLI run: progress, and history.csv rewritten after every
    epoch, so an interrupted run keeps the epochs it finished. A resumed run's history.csv
    goes on from the checkpoint's epoch."""

    def __init__(self, run: RunFolder, progress: Progress) -> None:
        import pandas as pd

        self.run, self.progress, self.records = run, progress, []
        path = run.file(HISTORY_FILE)
        self.earlier = pd.read_csv(path) if path.is_file() else None

    def __call__(self, record: Any) -> None:
        import pandas as pd

        self.records.append(record)
        frame = history_frame(self.records)
        if self.earlier is not None:
            before = self.earlier[self.earlier["epoch"] < self.records[0].epoch]
            frame = pd.concat([before, frame], ignore_index=True)
        self.run.write_text(HISTORY_FILE, frame.to_csv(index=False))
        self.progress.epoch(record)


@contextlib.contextmanager
def _epochs(args: argparse.Namespace, run: RunFolder, name: str, total: int) -> Iterator[Any]:
    """The epoch callback, with what to say when Ctrl-C stops the run."""
    with Progress(total, name, unit="epoch", mode=default_mode(args.quiet)) as progress:
        writer = _EpochWriter(run, progress)
        try:
            yield writer
        except KeyboardInterrupt:
            progress.close()
            finished = writer.records[-1].epoch if writer.records else 0
            run.write_metrics({"status": "interrupted", "epochs_finished": finished})
            command = " ".join(filter(None, ["udl", args.command, getattr(args, "model", None)]))
            how = (
                f"Resume with: {command} --resume {run.path}"
                if hasattr(args, "resume")
                else f"Start again with: {command} --config {run.file('config.toml')} --out NEW"
            )
            log.warning(
                "udl: interrupted after %d finished epochs; %s holds complete files only. %s",
                finished,
                run.path,
                how,
            )
            raise


def _finish(run: RunFolder, metrics: dict[str, Any], stop_reason: str) -> int:
    run.write_deferred_config()
    status = "diverged" if stop_reason.startswith("diverged") else "completed"
    run.write_metrics({"status": status, "stop_reason": stop_reason, **metrics})
    for key, value in metrics.items():
        if isinstance(value, float):
            print(f"{key}: {value:.6g}")
        elif isinstance(value, (int, str)):
            print(f"{key}: {value}")
    print(f"run folder: {run.path}")
    if status == "diverged":
        raise Failure(f"training {stop_reason}; the best epoch's model is in {run.path}")
    return 0


def _nothing_to_keep(result: Any) -> bool:
    """Diverged before any epoch was good: the model holds NaNs, not worth a file."""
    return result.stop_reason.startswith("diverged") and getattr(result, "best_epoch", 0) == 0


def _reconstruction_figure(
    run: RunFolder, model: Any, images: np.ndarray, corruption: udl.Corruption | None = None
) -> None:
    shown = images[:SHOWN_IMAGES]
    if corruption is None:
        rows = {"reconstruction": np.asarray(model.reconstruct(shown))}
    else:
        corrupted, denoised = udl.corruption.denoise(model, shown, corruption)
        rows = {"corrupted": corruption.displayed(corrupted), "denoised": denoised}
    run.save_figure(udl.figures.reconstruction_rows(shown, rows), "reconstructions")


# --- train ---------------------------------------------------------------------------------------


def _corruption(args: argparse.Namespace) -> udl.Corruption:
    presets = {
        "report003": udl.Corruption.report003,
        "report004": udl.Corruption.report004,
    }
    values = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(udl.Corruption)
        if getattr(args, f.name) is not None
    }
    if args.preset == "none":
        return udl.Corruption(**values)
    return dataclasses.replace(presets[args.preset](), **values)


def _train_autoencoder(args: argparse.Namespace) -> int:
    denoising = args.model == "dae"
    corruption = _corruption(args) if denoising else None  # a bad one fails before the data
    run = _start(args, args.model)
    data = _data(args)
    if denoising:
        result = _trained(args, run, args.model, udl.train_dae, data, corruption)
    else:
        result = _trained(args, run, args.model, udl.train_cae, data)
    if _nothing_to_keep(result):
        return _finish(run, {"best_epoch": 0}, result.stop_reason)
    result.model.save(run.file("model.udl"))
    run.save_figure(udl.figures.loss_curves(result.history), "loss")
    _reconstruction_figure(run, result.model, data.test.images, corruption)
    metrics = {**_run_metrics(result), "test_loss": result.test_loss, "test_mse": result.test_mse}
    if result.test_denoising is not None:
        scores = dataclasses.asdict(result.test_denoising)
        metrics.update({f"test_{k}": v for k, v in scores.items()})
        metrics["test_psnr_gain"] = result.test_denoising.psnr_gain
    return _finish(run, metrics, result.stop_reason)


def _train_vae(args: argparse.Namespace) -> int:
    run = _start(args, "vae")
    data = _data(args)
    result = _trained(args, run, "vae", udl.train_vae, data)
    if _nothing_to_keep(result):
        return _finish(run, {"best_epoch": 0}, result.stop_reason)
    model = result.model
    model.save(run.file("model.udl"))
    run.save_figure(udl.figures.loss_curves(result.history), "loss")
    _reconstruction_figure(run, model, data.test.images)
    run.save_figure(udl.figures.image_grid(np.asarray(model.sample(64, seed=0))), "samples")
    if model.latent_dim == 2:
        grid = model.latent_grid(15)
        run.save_figure(udl.figures.image_grid(grid, ncols=15), "latent-grid")
    test = result.test
    metrics = {
        **_run_metrics(result),
        "test_loss": test.total if test else None,
        "test_reconstruction": test.reconstruction if test else None,
        "test_kl": test.kl if test else None,
        "test_mse": test.mse if test else None,
    }
    return _finish(run, metrics, result.stop_reason)


def _train_gan(args: argparse.Namespace) -> int:
    run = _start(args, f"gan-{args.architecture}")
    data = _data(args)
    result = _trained(args, run, f"gan {args.architecture}", udl.train_gan, data)
    if _nothing_to_keep(result):
        return _finish(run, {"epochs": len(result.history)}, result.stop_reason)
    result.model.save(run.file("model.udl"))
    run.save_figure(udl.figures.gan_loss_curves(result.history), "loss")
    for epoch, images in sorted(result.samples.items()):
        run.save_figure(udl.figures.image_grid(images, title=f"epoch {epoch}"), f"samples-{epoch}")
    final = result.model.generate(64, seed=args.seed)
    run.save_figure(udl.figures.image_grid(final, title="after training"), "samples")
    last = result.history[-1] if result.history else None
    metrics = {
        "epochs": len(result.history),
        "generator_loss": last.generator_loss if last else None,
        "discriminator_loss": last.discriminator_loss if last else None,
        "real_score": last.real_score if last else None,
        "fake_score": last.fake_score if last else None,
        "seconds": result.seconds,
    }
    return _finish(run, metrics, result.stop_reason)


def _classifier_outputs(run: RunFolder, result: Any) -> int:
    if _nothing_to_keep(result):
        return _finish(run, {"best_epoch": 0}, result.stop_reason)
    result.model.save(run.file("model.udl"))
    run.save_figure(udl.figures.loss_curves(result.history), "loss")
    report = result.test
    if report is not None:
        figure = udl.figures.confusion_matrix(report.confusion, report.class_names)
        run.save_figure(figure, "confusion")
        print(report.table())
    metrics = {
        **_run_metrics(result),
        "test_accuracy": report.accuracy if report else None,
        "test_loss": report.loss if report else None,
        "trainable_parameters": result.model.trainable_parameter_count,
        "per_class_accuracy": report.per_class_accuracy if report else None,
    }
    return _finish(run, metrics, result.stop_reason)


def _train_classifier(args: argparse.Namespace) -> int:
    run = _start(args, "classifier")
    data = _data(args)
    return _classifier_outputs(run, _trained(args, run, "classifier", udl.train_classifier, data))


_TRAINERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "cae": _train_autoencoder,
    "dae": _train_autoencoder,
    "vae": _train_vae,
    "gan": _train_gan,
    "classifier": _train_classifier,
}


# --- finetune, cv, tune, reproduce, report -------------------------------------------------------


def _finetune(args: argparse.Namespace) -> int:
    if args.autoencoder is None:
        raise ValueError("--autoencoder FILE is required: the autoencoder to fine-tune")
    try:
        autoencoder = udl.load_model(args.autoencoder)
    except (FileNotFoundError, udl.DataFormatError) as error:
        raise ValueError(f"--autoencoder: {error}") from None
    if not isinstance(autoencoder, udl.Autoencoder):
        raise ValueError(
            f"--autoencoder {args.autoencoder} holds a {type(autoencoder).__name__}, "
            "not an autoencoder"
        )
    run = _start(args, "finetune")
    data = _data(args)
    result = _trained(args, run, "finetune", udl.finetune_classifier, autoencoder, data)
    return _classifier_outputs(run, result)


def _cv(args: argparse.Namespace) -> int:
    parameters = _parameters(args)
    nf, latent_dim = parameters.pop("nf"), parameters.pop("latent_dim")
    run = _start(args, "cv")
    data = _data(args)
    spec = udl.AutoencoderSpec.conv_autoencoder(nf, latent_dim, data.train.image_shape)
    with _epochs(args, run, "cv", args.k * args.epochs) as on_epoch:
        result = udl.cross_validate(
            spec, data, callback=on_epoch, **parameters, **_checkpointing(args, run)
        )
    result.model.save(run.file("model.udl"))
    folds = [dataclasses.replace(f, history=[]) for f in result.folds]
    run.write_history(folds, "folds.csv")
    best = result.folds[result.best_fold]
    run.save_figure(udl.figures.loss_curves(best.history), "loss-best-fold")
    print(result.summary())
    metrics = {
        "mean_val_loss": result.mean_val_loss,
        "std_val_loss": result.std_val_loss,
        "mean_val_mse": result.mean_val_mse,
        "std_val_mse": result.std_val_mse,
        "best_fold": result.best_fold,
        "best_fold_test_mse": best.test_mse,
        "seconds": result.seconds,
    }
    diverged = [f.stop_reason for f in result.folds if f.stop_reason.startswith("diverged")]
    return _finish(run, metrics, diverged[0] if diverged else "completed")


def _tune(args: argparse.Namespace) -> int:
    _check_subset(args)  # before the study's folder is made
    name = args.study_name or args.search
    if args.out is None:
        args.out = Path("runs") / name  # a fixed folder, so that rerunning resumes
    run = _start(args, name, resume=True)
    data = _data(args)
    fixed: dict[str, Any] = {"epochs": args.epochs}
    if args.batch_size is not None:
        fixed["batch_size"] = args.batch_size
    if args.threads is not None:
        fixed["threads"] = args.threads
    fixed["device"] = args.device
    from udl.tuning import SEARCHES

    total = args.trials or SEARCHES[args.search].n_trials
    storage = args.storage or run.file("study.journal")
    with Progress(total, f"study {name}", unit="trial", mode=default_mode(args.quiet)) as bar:
        try:
            result = udl.tune(
                data.train,
                args.search,
                n_trials=args.trials,
                folds=args.folds,
                storage=args.storage,
                study_name=name,
                run_dir=run.path,
                pruner=args.pruner,
                objectives=tuple(args.objectives.split(",")),
                n_jobs=args.n_jobs,
                timeout=args.timeout,
                seed=args.seed,
                callback=bar.trial,
                **fixed,
            )
        except KeyboardInterrupt:
            bar.close()
            log.warning(
                "udl: interrupted; the finished trials are stored in %s. Resume with the "
                "same command.",
                storage,
            )
            raise
    table = result.trials_table()
    run.write_text("trials.csv", table.to_csv(index=False))
    counts = table["state"].value_counts().to_dict()
    if not args.no_figures:
        for path in result.save_figures(run.path / "figures"):
            log.info("figure: %s", path)
    print(f"study {name!r}: {len(table)} trials {counts}")
    print(f"best value {result.best_value:.5f} (trial {result.best_trial.number})")
    print(f"best parameters: {result.best_params}")
    run.write_deferred_config()
    run.write_metrics(
        {
            "status": "completed",
            "trials": len(table),
            "states": counts,
            "best_value": result.best_value,
            "best_trial": result.best_trial.number,
            "best_params": result.best_params,
        }
    )
    print(f"run folder: {run.path}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    from udl.app import plan, reproduce

    _check_subset(args)
    reports = plan.parse_reports(args.reports)
    if args.out is None:
        args.out = Path("runs") / f"reproduce-{args.budget}"
    chosen = plan.settings_of(args.budget, args.seed, args.subset)
    plan.check_resumable(args.out, chosen)  # before anything is written there
    run = _start(args, "reproduce", resume=True)
    try:
        report = reproduce.reproduce(
            run,
            reports=reports,
            budget=args.budget,
            seed=args.seed,
            data_dir=args.data_dir,
            subset=args.subset,
            threads=args.threads,
            device=args.device,
            mode=default_mode(args.quiet),
        )
    except KeyboardInterrupt:
        log.warning(
            "udl: interrupted; the finished stages are kept in %s. Resume with the same "
            "command (it skips them).",
            run.path,
        )
        raise
    run.write_deferred_config()
    print(f"report: {report}")
    return 0


def _report(args: argparse.Namespace) -> int:
    from udl.app import report

    path = report.write_report(RunFolder(args.run_dir))
    print(f"report: {path}")
    return 0
