"""Training entry points: thin wrappers that validate, convert, and call the native loop."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from udl import _native, datasets
from udl._checks import integer, number
from udl._native_config import fill_loop_config, shows_loop_settings
from udl.autoencoders import Autoencoder, AutoencoderSpec
from udl.corruption import Corruption
from udl.records import EpochRecord, TrainingRun

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from udl.settings import LoopOptions

__all__ = [
    "LAYER_GROUPS",
    "DenoisingScores",
    "EpochRecord",
    "TrainResult",
    "train_autoencoder",
    "train_cae",
    "train_dae",
]

#: The layer groups that pruning treats apart, in report 001's order.
LAYER_GROUPS = ("encoder_linear", "encoder_conv", "decoder_linear", "decoder_conv")
PruneAmounts = float | Sequence[float] | Mapping[str, float]


@dataclass(frozen=True)
class DenoisingScores:
    """A denoiser on the test set: its corrupted input and its output against the clean
    images (MSE per pixel; PSNR in dB, averaged over images, peak 1)."""

    corrupted_mse: float
    denoised_mse: float
    corrupted_psnr: float
    denoised_psnr: float

    @property
    def psnr_gain(self) -> float:
        """How many dB the denoiser adds."""
        return self.denoised_psnr - self.corrupted_psnr


@dataclass(kw_only=True)
class TrainResult(TrainingRun):
    """What training returns: the model (at its best epoch by default) and its figures."""

    model: Autoencoder
    history: list[EpochRecord] = field(default_factory=list)
    best_val_mse: float = float("nan")
    test_loss: float | None = None
    test_mse: float | None = None
    test_denoising: DenoisingScores | None = None  # with a corruption and a test set
    #: epoch -> reconstructions of `snapshot_images` after that epoch
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)


DataLike = Any  # datasets.Dataset | datasets.ImageSet | str | np.ndarray | torch.Tensor


def train_cae(
    data: DataLike,
    *,
    nf: int = 16,
    latent_dim: int = 10,
    **training: Any,
) -> TrainResult:
    """Trains the convolutional autoencoder of reports 000 and 002.

    conv(C->nf, k3, s2, p1) -> conv(nf->2nf, k3, s2, p1) -> conv(2nf->4nf, k3, s2, p0) ->
    linear(->64) -> linear(64->latent_dim), ReLU between; the decoder mirrors it with
    transposed convolutions and ends in a sigmoid.

    Args:
        data: see `train_autoencoder`.
        nf: channels of the first convolution (then 2nf, 4nf).
        latent_dim: size of the code.
        **training: the training parameters of `train_autoencoder`.

    Returns:
        A TrainResult (history, best epoch, test loss, trained model).
    """
    train_set, test_set = _resolve_data(data, training.pop("test", None))
    spec = AutoencoderSpec.conv_autoencoder(nf, latent_dim, train_set.image_shape)
    return train_autoencoder(spec, train_set, test=test_set, **training)


def train_dae(
    data: DataLike,
    corruption: Corruption,
    *,
    nf: int = 16,
    latent_dim: int = 10,
    spec: AutoencoderSpec | None = None,
    **training: Any,
) -> TrainResult:
    """Trains a denoising autoencoder: the CAE (or `spec`) sees corrupted images and learns
    to return the clean ones (reports 003 and 004).

    Args:
        data: see `train_autoencoder`.
        corruption: what the input suffers, drawn afresh for every batch (e.g.
            `Corruption.report003()`: Gaussian noise and rotation).
        nf: channels of the CAE's first convolution, unless `spec` is given.
        latent_dim: size of the CAE's code, unless `spec` is given.
        spec: any architecture instead of the CAE.
        **training: the training parameters of `train_autoencoder`.

    Returns:
        A TrainResult whose `test_denoising` holds the MSE and PSNR of the corrupted and of
        the denoised test images against the clean ones.
    """
    train_set, test_set = _resolve_data(data, training.pop("test", None))
    if spec is None:
        spec = AutoencoderSpec.conv_autoencoder(nf, latent_dim, train_set.image_shape)
    return train_autoencoder(spec, train_set, test=test_set, corruption=corruption, **training)


@shows_loop_settings()
def train_autoencoder(
    spec: AutoencoderSpec,
    data: DataLike,
    *,
    test: DataLike | None = None,
    loss: str = "mse",
    prune_every: int = 0,
    prune_amounts: PruneAmounts = 0.0,
    passes: int = 1,
    corruption: Corruption | None = None,
    callback: Callable[[EpochRecord], None] | None = None,
    snapshot_images: Any = None,
    snapshot_epochs: Sequence[int] = (),
    **options: Unpack[LoopOptions],
) -> TrainResult:
    """Trains an autoencoder of architecture `spec` in the native loop.

    The training images are split (seeded) into training and validation parts; each epoch
    reports its training and validation loss. Early stopping watches the validation loss
    and, with `restore_best`, the model ends with its best epoch's weights. The GIL is
    released while training; Ctrl-C stops it within a second as KeyboardInterrupt.

    Args:
        spec: the architecture.
        data: a `udl.datasets.Dataset` (its train set trains, its test set tests), an
            `ImageSet`, a dataset name for `udl.datasets.load`, or an image array.
        test: images to report the test loss on (defaults to the Dataset's test set).
        loss: "mse" or "bce" (on the sigmoid output).
        prune_every: after every `prune_every`-th epoch, mask the `prune_amounts` fraction
            of each layer's remaining weights with the smallest |w| (L1 magnitude pruning;
            masked weights stay exactly zero). 0 never prunes.
        prune_amounts: fractions in [0, 1) per layer group: one number for all, four (a
            sequence or 1-D array) in report 001's order (encoder linear, encoder conv,
            decoder linear, decoder conv),
            or a mapping with those keys ("encoder_linear", ...).
        passes: iterative autoencoding: the loss sums the reconstruction errors of passes
            1..n, each encoding the previous reconstruction, all against the input.
        corruption: train a denoiser: the model sees images corrupted on the fly (a new
            draw every batch; validation and test draws fixed by the seed) and is scored
            against the clean ones. See `train_dae`.
        callback: called after every epoch with its EpochRecord; an exception it raises
            stops training and reaches the caller unchanged.
        snapshot_images: fixed images (e.g. a few test images) to reconstruct after each of
            `snapshot_epochs`; the reconstructions land in `TrainResult.snapshots`
            (reports 000 and 001 show them at chosen epochs).
        snapshot_epochs: the epochs (1-based) after which to reconstruct them.

    Returns:
        A TrainResult.

    Raises:
        ValueError: for any parameter out of range, an unknown loss or optimizer, or images
            that do not fit `spec`.
        TypeError: for data of an unsupported type.
    """
    train_set, test_set = _resolve_data(data, test)
    if tuple(train_set.image_shape) != tuple(spec.input_shape):
        raise ValueError(
            f"the architecture takes {spec.input_shape} images, the data has "
            f"{train_set.image_shape}"
        )
    config = _train_config(
        {
            "loss": loss,
            "prune_every": prune_every,
            "prune_amounts": prune_amounts,
            "passes": passes,
            "corruption": corruption,
            **options,
        }
    )
    model = Autoencoder(spec, seed=config.seed)
    snapshots: dict[int, np.ndarray] = {}
    wanted = {integer(e, "snapshot epoch", minimum=1) for e in snapshot_epochs}
    if wanted and snapshot_images is None:
        raise ValueError("snapshot_epochs needs snapshot_images")
    if snapshot_images is not None:
        model._check_images(snapshot_images)  # fail before training, not after an epoch

    def on_epoch(record: EpochRecord) -> None:
        if record.epoch in wanted:
            snapshots[record.epoch] = np.asarray(model.reconstruct(snapshot_images))
        if callback is not None:
            callback(record)

    native = _native._C.train_autoencoder(
        model._model,
        train_set.images,
        None if test_set is None else test_set.images,
        config,
        _native_callback(on_epoch),
    )
    return TrainResult(
        model=model,
        snapshots=snapshots,
        test_denoising=_denoising_scores(native.test_denoising),
        **_result_fields(native),
    )


#: The autoencoder's own settings (beside the loop's) and their defaults, from
#: train_autoencoder's signature.
_AUTOENCODER_DEFAULTS = {
    name: inspect.signature(train_autoencoder).parameters[name].default
    for name in ("loss", "prune_every", "prune_amounts", "passes", "corruption")
}


def _train_config(settings: Mapping[str, Any]) -> Any:
    """The native TrainConfig of an autoencoder's settings (its own and the loop's; those not
    given take their defaults), validated."""
    own = {name: settings.get(name, default) for name, default in _AUTOENCODER_DEFAULTS.items()}
    options = {k: v for k, v in settings.items() if k not in own}
    config = fill_loop_config(_native._C.TrainConfig(), options, "train_autoencoder")
    loss, prune_every, prune_amounts, passes, corruption = own.values()
    config.loss = loss
    config.prune_every = integer(prune_every, "prune_every")
    config.prune_amounts = _prune_amounts(prune_amounts)
    config.passes = integer(passes, "passes")
    if corruption is not None:
        if not isinstance(corruption, Corruption):
            raise TypeError(f"corruption must be a udl.Corruption, got {type(corruption).__name__}")
        config.corruption = corruption._native()
    config.validate()
    return config


def _prune_amounts(amounts: PruneAmounts) -> dict[str, float]:
    if isinstance(amounts, np.ndarray):
        amounts = amounts.tolist()  # a 1-D array as a list, a 0-D one as a number
    if isinstance(amounts, Mapping):
        unknown = set(amounts) - set(LAYER_GROUPS)
        if unknown:
            raise ValueError(
                f"prune_amounts: unknown layer groups {sorted(unknown, key=repr)}; "
                f"expected {', '.join(LAYER_GROUPS)}"
            )
        return {group: number(amounts.get(group, 0.0), "prune_amounts") for group in LAYER_GROUPS}
    if isinstance(amounts, str) or not isinstance(amounts, Sequence):
        value = number(amounts, "prune_amounts")
        return dict.fromkeys(LAYER_GROUPS, value)
    if len(amounts) != len(LAYER_GROUPS):
        raise ValueError(
            f"prune_amounts needs {len(LAYER_GROUPS)} values ({', '.join(LAYER_GROUPS)}), "
            f"got {len(amounts)}"
        )
    return {g: number(a, "prune_amounts") for g, a in zip(LAYER_GROUPS, amounts, strict=True)}


def _native_callback(
    callback: Callable[[Any], None] | None, record: type[Any] = EpochRecord
) -> Any:
    """The native loop's per-epoch hook: `callback` with the epoch as a `record`."""
    if callback is None:
        return None

    def on_epoch(native: Any) -> None:
        callback(record._from_native(native))

    return on_epoch


def _result_fields(native: Any) -> dict[str, Any]:
    """The fields a native TrainResult shares with TrainResult and FoldResult."""
    return {
        **TrainingRun._run_fields(native, EpochRecord),
        "best_val_mse": native.best_val_mse,
        "test_loss": native.test_loss,
        "test_mse": native.test_mse,
    }


def _denoising_scores(native: Any) -> DenoisingScores | None:
    if native is None:
        return None
    return DenoisingScores(
        corrupted_mse=native.corrupted_mse,
        denoised_mse=native.denoised_mse,
        corrupted_psnr=native.corrupted_psnr,
        denoised_psnr=native.denoised_psnr,
    )


def _resolve_data(
    data: DataLike, test: DataLike | None
) -> tuple[datasets.ImageSet, datasets.ImageSet | None]:
    if isinstance(data, str):
        data = datasets.load(data)
    if isinstance(data, datasets.Dataset):
        train_set, default_test = data.train, data.test
    else:
        train_set, default_test = _image_set(data, "data"), None
    test_set = default_test if test is None else _image_set(test, "test")
    if test_set is not None and test_set.image_shape != train_set.image_shape:
        raise ValueError(
            f"test images are {test_set.image_shape}, training images {train_set.image_shape}"
        )
    return train_set, test_set


def _image_set(value: DataLike, what: str) -> datasets.ImageSet:
    if isinstance(value, datasets.ImageSet):
        return value
    if isinstance(value, datasets.Dataset):
        return value.test
    try:
        return datasets.from_numpy(value)
    except TypeError as error:
        raise TypeError(f"{what}: {error}") from None
