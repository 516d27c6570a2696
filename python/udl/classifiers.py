"""Image classifiers on the convolutional encoder (reports 000, 002, 003): fine-tuned from a
trained autoencoder with its convolutions (and optionally its linear layers) frozen, trained
from scratch as the supervised baseline, or the encoder itself as the classifier."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from udl import _native, datasets
from udl._arrays import ArrayLike, existing_file, images_for, like
from udl._checks import flag, integer, number
from udl._checks import seed as check_seed
from udl._held_model import HeldModel
from udl._native_config import fill_loop_config, loop_setting, shows_loop_settings
from udl.autoencoders import Autoencoder, AutoencoderSpec
from udl.records import ClassifierEpochRecord, TrainingRun
from udl.training import DataLike, _native_callback, _resolve_data

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from udl.settings import LoopOptions

__all__ = [
    "HEADS",
    "ClassificationReport",
    "Classifier",
    "ClassifierEpochRecord",
    "ClassifierResult",
    "ClassifierSpec",
    "finetune_classifier",
    "train_classifier",
]

#: "linear": latent → classes (report 000); "two_layer": latent → head_hidden, ReLU →
#: classes (report 002); "none": the latent layer is the output, latent_dim = classes
#: (report 003).
HEADS = ("linear", "two_layer", "none")


@dataclass(frozen=True)
class ClassifierSpec:
    """A classifier: the encoder half of an autoencoder architecture and a head.

    The output is LogSoftmax over the classes; training minimises the negative
    log-likelihood (equivalently, cross-entropy on the logits).

    Attributes:
        encoder: the architecture whose encoder (convolutions, hidden layers, latent layer)
            is the classifier's body.
        classes: number of classes, >= 2.
        head: one of HEADS.
        head_hidden: width of the two-layer head.
        batch_norm: BatchNorm after every encoder convolution. An autoencoder has none, so
            fine-tuning starts them as the identity, and they train even with the
            convolutions frozen.
    """

    encoder: AutoencoderSpec
    classes: int = 10
    head: str = "linear"
    head_hidden: int = 64
    batch_norm: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.encoder, AutoencoderSpec):
            raise TypeError(
                f"encoder must be an AutoencoderSpec, got {type(self.encoder).__name__}"
            )
        if self.head not in HEADS:
            raise ValueError(f"unknown head {self.head!r} (expected one of {', '.join(HEADS)})")
        object.__setattr__(self, "classes", integer(self.classes, "classes"))
        object.__setattr__(self, "head_hidden", integer(self.head_hidden, "head_hidden"))
        object.__setattr__(self, "batch_norm", flag(self.batch_norm, "batch_norm"))
        self._native()  # validates

    def _native(self) -> Any:
        return _native._C.ClassifierSpec(
            self.encoder._native(), self.classes, self.head, self.head_hidden, self.batch_norm
        )


class Classifier(HeldModel):
    """A classifier held by the native core."""

    _native_class = "Classifier"
    spec: ClassifierSpec

    @property
    def feature_dim(self) -> int:
        """Width of `features`: the input of the last linear layer."""
        return int(self._model.feature_dim)

    def requires_grad(self) -> dict[str, bool]:
        """Whether each parameter (by name, e.g. "encoder.0.weight") is trained."""
        return dict(self._model.requires_grad())

    def log_probabilities(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """N x classes log-probabilities (float32) of images (uint8 or float in [0, 1]).
        `device`: move the model there first (else it runs where it is, `self.device`)."""
        return like(self._on(device).log_probabilities(self._images(images)), images)

    def predict_proba(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """N x classes probabilities."""
        array = np.exp(self._on(device).log_probabilities(self._images(images)))
        return like(array, images)

    def predict(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """The most probable class of each image (int64)."""
        array = self._on(device).log_probabilities(self._images(images)).argmax(axis=1)
        return like(array.astype(np.int64), images)

    def features(self, images: ArrayLike, *, device: str | None = None) -> ArrayLike:
        """N x feature_dim activations feeding the last linear layer (what a Fréchet
        distance compares)."""
        return like(self._on(device).features(self._images(images)), images)

    def evaluate(
        self,
        data: DataLike,
        class_names: Sequence[str] | None = None,
        *,
        device: str | None = None,
    ) -> ClassificationReport:
        """Accuracy, loss and confusion matrix on a labelled set (a Dataset's test set)."""
        test_set, names = _labelled(data, "data", class_names)
        if class_names is not None or isinstance(data, datasets.Dataset):
            names = _check_names(names, self.spec.classes)
        native = _native._C.evaluate_classifier(self._on(device), test_set.images, test_set.labels)
        return _report(native, names)

    def _assemble(self, modules: dict[str, Any]) -> Any:
        from torch import nn

        from udl.portable import PortableClassifier

        # A headless classifier's head is an empty Sequential: the identity.
        return PortableClassifier(modules["encoder"], modules.get("head", nn.Sequential()))

    def _export_parts(self) -> dict[str, tuple[str, Any]]:
        import torch

        return {"classify": ("forward", torch.rand(2, *self.spec.encoder.input_shape))}

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Classifier:
        """Reads a classifier written by `save`.

        Raises:
            FileNotFoundError: if `path` does not exist.
            udl.DataFormatError: if it is not a udl classifier file.
        """
        native = _native._C.Classifier.load(existing_file(path))
        spec = native.spec
        return cls(
            ClassifierSpec(
                AutoencoderSpec._from_native(spec.encoder),
                spec.classes,
                spec.head,
                spec.head_hidden,
                spec.batch_norm,
            ),
            _held=native,
        )

    def _images(self, images: ArrayLike) -> np.ndarray:
        return images_for(images, self.spec.encoder.input_shape)

    def __repr__(self) -> str:
        return (
            f"Classifier({self.spec.encoder.describe()}"
            f"{' with batch norm' if self.spec.batch_norm else ''} -> {self.spec.head} head -> "
            f"{self.spec.classes} classes, {self.trainable_parameter_count}/"
            f"{self.parameter_count} parameters trainable)"
        )


@dataclass(frozen=True, eq=False)
class ClassificationReport:
    """Test-set figures of a classifier."""

    accuracy: float
    loss: float  # mean negative log-likelihood
    confusion: np.ndarray  # classes x classes counts: row = true class, column = predicted
    class_names: tuple[str, ...]

    @property
    def per_class_accuracy(self) -> dict[str, float]:
        """Recall of every class: the share of its images classified correctly."""
        totals = self.confusion.sum(axis=1)
        hits = np.diag(self.confusion)
        return {
            name: float(hits[i] / totals[i]) if totals[i] else float("nan")
            for i, name in enumerate(self.class_names)
        }

    def table(self) -> str:
        """Per-class accuracy as aligned text, then the overall figure."""
        width = max(len(n) for n in self.class_names)
        rows = [f"{name:>{width}}  {acc:6.2%}" for name, acc in self.per_class_accuracy.items()]
        rows.append(f"{'overall':>{width}}  {self.accuracy:6.2%}")
        return "\n".join(rows)


@dataclass(kw_only=True)
class ClassifierResult(TrainingRun):
    """What classifier training returns: the model (at its best epoch) and its figures."""

    model: Classifier
    history: list[ClassifierEpochRecord] = field(default_factory=list)
    test: ClassificationReport | None = None


@shows_loop_settings()
def train_classifier(
    data: DataLike,
    *,
    spec: AutoencoderSpec | None = None,
    nf: int = 16,
    latent_dim: int = 10,
    head: str = "linear",
    head_hidden: int = 64,
    batch_norm: bool = False,
    max_shift: int = 0,
    horizontal_flip: bool = False,
    test: DataLike | None = None,
    callback: Callable[[ClassifierEpochRecord], None] | None = None,
    **options: Unpack[LoopOptions],
) -> ClassifierResult:
    """Trains a classifier from scratch, nothing frozen: the supervised baseline, or with
    head="none" and latent_dim = classes, report 003's encoder-as-classifier.

    Args:
        data: a labelled `udl.datasets.Dataset` (its train set trains, its test set tests),
            a labelled `ImageSet`, or a dataset name.
        spec: the encoder's architecture (default: the CAE of `nf`, `latent_dim`).
        nf: channels of the CAE's first convolution, unless `spec` is given.
        latent_dim: the CAE's latent width, unless `spec` is given.
        head: one of HEADS.
        head_hidden: width of the two-layer head.
        batch_norm: BatchNorm after every convolution of the encoder.
        max_shift: augmentation: every training image moves by a whole number of pixels
            drawn uniformly in ±max_shift on each axis, afresh each batch (0: none).
        horizontal_flip: augmentation: every training image is mirrored left-right with
            probability 1/2 (for classes a mirror keeps: clothes, not digits).
        test: a labelled set to score (default: the Dataset's test set).
        callback: called after every epoch with its ClassifierEpochRecord.

    Returns:
        A ClassifierResult; its `test` has accuracy, per-class accuracy and the confusion
        matrix.

    Raises:
        ValueError: for parameters out of range, missing labels, or labels >= classes.
    """
    train_set, test_set, names = _labelled_data(data, test)
    if spec is None:
        spec = AutoencoderSpec.conv_autoencoder(nf, latent_dim, train_set.image_shape)
    classifier_spec = ClassifierSpec(spec, len(names), head, head_hidden, batch_norm)
    model = Classifier(classifier_spec, seed=check_seed(loop_setting(options, "seed")))
    augmentation = _augmentation(max_shift, horizontal_flip)
    return _train(
        model, train_set, test_set, names, options, augmentation, callback, "train_classifier"
    )


@shows_loop_settings()
def finetune_classifier(
    autoencoder: Autoencoder,
    data: DataLike,
    *,
    head: str = "linear",
    head_hidden: int = 64,
    freeze_conv: bool = True,
    freeze_linear: bool = False,
    dropout: float | None = None,
    batch_norm: bool = False,
    max_shift: int = 0,
    horizontal_flip: bool = False,
    test: DataLike | None = None,
    callback: Callable[[ClassifierEpochRecord], None] | None = None,
    **options: Unpack[LoopOptions],
) -> ClassifierResult:
    """Transfer learning: a classifier on a trained autoencoder's encoder (report 000).

    The encoder's weights are copied; its convolutions are frozen (no gradients, never
    updated) unless freeze_conv=False, its linear layers too with freeze_linear=True; the
    head trains. Other arguments as in `train_classifier`.

    Args:
        dropout: the probability of the dropout before every hidden linear layer of the
            encoder while fine-tuning (default: the autoencoder's own); it regularises the
            trainable layers on top of the frozen features.

    Returns:
        A ClassifierResult; compare its `seconds` with a `train_classifier` baseline for the
        cost of fine-tuning.
    """
    if not isinstance(autoencoder, Autoencoder):
        raise TypeError(f"autoencoder must be a udl.Autoencoder, got {type(autoencoder).__name__}")
    train_set, test_set, names = _labelled_data(data, test)
    encoder = autoencoder.spec
    if dropout is not None:
        encoder = dataclasses.replace(encoder, dropout=number(dropout, "dropout"))
    classifier_spec = ClassifierSpec(encoder, len(names), head, head_hidden, batch_norm)
    model = Classifier(classifier_spec, seed=check_seed(loop_setting(options, "seed")))
    augmentation = _augmentation(max_shift, horizontal_flip)
    model._model.load_encoder(autoencoder._model)
    model._model.freeze_encoder(
        flag(freeze_conv, "freeze_conv"), flag(freeze_linear, "freeze_linear")
    )
    return _train(
        model, train_set, test_set, names, options, augmentation, callback, "finetune_classifier"
    )


def _augmentation(max_shift: Any, horizontal_flip: Any) -> dict[str, Any]:
    """The augmentation arguments, type-checked (the core checks their range)."""
    return {
        "max_shift": integer(max_shift, "max_shift"),
        "horizontal_flip": flag(horizontal_flip, "horizontal_flip"),
    }


def _train(
    model: Classifier,
    train_set: datasets.ImageSet,
    test_set: datasets.ImageSet | None,
    names: tuple[str, ...],
    options: Mapping[str, Any],
    augmentation: Mapping[str, Any],
    callback: Callable[[ClassifierEpochRecord], None] | None,
    function: str,
) -> ClassifierResult:
    config = fill_loop_config(_native._C.ClassifierConfig(), options, function)
    config.validate()
    for name, value in augmentation.items():
        setattr(config, name, value)
    native = _native._C.train_classifier(
        model._model,
        train_set.images,
        train_set.labels,
        None if test_set is None else test_set.images,
        None if test_set is None else test_set.labels,
        config,
        _native_callback(callback, ClassifierEpochRecord),
    )
    return ClassifierResult(
        model=model,
        **TrainingRun._run_fields(native, ClassifierEpochRecord),
        test=None if native.test is None else _report(native.test, names),
    )


def _labelled_data(
    data: DataLike, test: DataLike | None
) -> tuple[datasets.ImageSet, datasets.ImageSet | None, tuple[str, ...]]:
    names = data.class_names if isinstance(data, datasets.Dataset) else None
    if isinstance(data, str):
        loaded = datasets.load(data)
        names, data = loaded.class_names, loaded
    train_set, test_set = _resolve_data(data, test)
    if train_set.labels is None:
        raise ValueError("a classifier needs labelled training images")
    if test_set is not None and test_set.labels is None:
        raise ValueError("the test images have no labels")
    if names is None:
        names = tuple(str(i) for i in range(int(train_set.labels.max()) + 1))
    return train_set, test_set, tuple(names)


def _labelled(
    data: DataLike, what: str, class_names: Sequence[str] | None
) -> tuple[datasets.ImageSet, tuple[str, ...]]:
    if isinstance(data, str):
        data = datasets.load(data)
    if isinstance(data, datasets.Dataset):
        class_names = class_names or data.class_names
        data = data.test
    if not isinstance(data, datasets.ImageSet):
        raise TypeError(
            f"{what} must be a Dataset, an ImageSet or a name, got {type(data).__name__}"
        )
    if data.labels is None:
        raise ValueError(f"{what} has no labels")
    if class_names is None:
        class_names = tuple(str(i) for i in range(int(data.labels.max()) + 1))
    return data, tuple(class_names)


def _check_names(names: tuple[str, ...], classes: int) -> tuple[str, ...]:
    if len(names) != classes:
        raise ValueError(f"{len(names)} class names given for a {classes}-class classifier")
    return names


def _report(native: Any, names: tuple[str, ...]) -> ClassificationReport:
    confusion = np.array(native.confusion)
    if len(names) != confusion.shape[0]:
        names = tuple(str(i) for i in range(confusion.shape[0]))
    return ClassificationReport(
        accuracy=native.accuracy, loss=native.loss, confusion=confusion, class_names=names
    )
