"""Training speed of four models: udl's native loops against idiomatic PyTorch.

Each model is trained the same way by both: the same data split sizes, batch size,
optimizer and learning rate, loss, thread count and number of epochs. PyTorch runs the usual
way: an nn.Module, a DataLoader over a TensorDataset with shuffle=True, the zero_grad /
forward / loss / backward / step loop in Python, and a validation pass under torch.no_grad
after every epoch (the GAN has none, in either). The models:

  cae        the report-000 CAE (nf 16, latent 10) on Fashion-MNIST: 48,000 training /
             12,000 validation images, batch 256, Adam 1e-3, MSE on the sigmoid output.
  report001  report 001's best architecture on MNIST (as benchmarks/report001_cv.py):
             channels 6, 12, 17; kernels 2, 2, 3; strides 1, 1, 3; paddings 1, 0, 1; hidden
             57 with dropout 0.1905 (encoder); latent 6; BCE on the logits; Adam 2.89e-3,
             weight decay 6.51e-7; batch 383. Here with a plain 48,000 / 12,000 split
             instead of cross-validation, and without pruning, in both.
  vae        udl.train_vae's defaults (report 000's VAE) on Fashion-MNIST: the CAE of nf 8
             with mean and log-variance heads to a 2-d latent; loss per image = squared
             error summed over the pixels + 0.8 x KL, averaged over the batch; Adam 1e-3,
             batch 256, 48,000 / 12,000 images.
  dcgan      udl.train_gan(architecture="dcgan")'s defaults on all 60,000 Fashion-MNIST
             training images scaled to [-1, 1]: noise 100, batch 64, Adam 2e-4 with betas
             (0.5, 0.999) for both networks; every batch one discriminator step (BCE on the
             logits: real images as 1, generated ones as 0) and one generator step (the
             non-saturating BCE), from the same noise.

udl and PyTorch run interleaved (a udl run of --epochs epochs, then a PyTorch one, --repeats
times) so that machine noise hits both alike, and each side's best epoch counts (the first
epoch of a run warms up). Prints, per model, images per second of each (training images of
an epoch / its seconds, the validation pass included), their ratio, and udl's achieved
GFLOP/s against the machine's peak, measured here as the best rate of a 4096 x 4096 float32
matrix product (torch.mm) on the same threads; then a markdown table for docs/benchmarks.md.

    UDL_DATA_DIR=../shared/data python benchmarks/speed.py [--models cae,report001,vae,dcgan]
        [--epochs 2] [--repeats 2] [--threads 2] [--subset N]
"""

from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import udl

SEED = 0
VAL_FRACTION = 0.2  # udl's default split, mirrored for PyTorch

CAE = {"nf": 16, "latent_dim": 10}
CAE_TRAINING = {"loss": "mse", "lr": 1e-3, "batch_size": 256}

# As benchmarks/report001_cv.py, without its pruning (prune_every, prune_amounts) and
# early stopping (patience).
REPORT001_SPEC = udl.AutoencoderSpec(
    conv_layers=[(6, 2, 1, 1), (12, 2, 1, 0), (17, 3, 3, 1)],
    hidden_widths=[57],
    latent_dim=6,
    dropout=0.1905,
)
REPORT001_TRAINING = {"loss": "bce", "lr": 2.89e-3, "weight_decay": 6.51e-7, "batch_size": 383}

# udl.train_vae's defaults, spelled out (tests/test_speed_benchmark.py checks them).
VAE = {"nf": 8, "latent_dim": 2, "beta": 0.8, "loss": "mse"}
VAE_TRAINING = {"lr": 1e-3, "batch_size": 256}

# udl.train_gan(architecture="dcgan")'s defaults, spelled out.
DCGAN = {"noise_dim": 100, "lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "batch_size": 64}


# --- the PyTorch models -------------------------------------------------------------------


@dataclass(frozen=True)
class Convolution:
    """One encoder convolution of an AutoencoderSpec with its input and output sizes."""

    in_channels: int
    out_channels: int
    kernel: int
    stride: int
    padding: int
    input_size: tuple[int, int]
    output_size: tuple[int, int]

    @property
    def output_padding(self) -> tuple[int, int]:
        """What the mirroring transposed convolution needs to give back `input_size`."""

        def padding(size: int, out: int) -> int:
            return size - ((out - 1) * self.stride - 2 * self.padding + self.kernel)

        (height, width), (out_h, out_w) = self.input_size, self.output_size
        return padding(height, out_h), padding(width, out_w)

    @property
    def macs(self) -> int:
        """Multiply-adds of the convolution, and of its mirror (the same products)."""
        height, width = self.output_size
        return self.in_channels * self.out_channels * self.kernel**2 * height * width


def convolutions(spec: udl.AutoencoderSpec) -> list[Convolution]:
    channels, height, width = spec.input_shape
    layers = []
    for c in spec.conv_layers:
        out_h = (height + 2 * c.padding - c.kernel) // c.stride + 1
        out_w = (width + 2 * c.padding - c.kernel) // c.stride + 1
        layers.append(
            Convolution(
                channels, c.channels, c.kernel, c.stride, c.padding, (height, width), (out_h, out_w)
            )
        )
        channels, height, width = c.channels, out_h, out_w
    return layers


def _conv_output_shape(spec: udl.AutoencoderSpec) -> tuple[int, int, int]:
    convs = convolutions(spec)
    if not convs:
        return spec.input_shape
    return (convs[-1].out_channels, *convs[-1].output_size)


def _flat_features(spec: udl.AutoencoderSpec) -> int:
    channels, height, width = _conv_output_shape(spec)
    return channels * height * width


def encoder_layers(spec: udl.AutoencoderSpec, *, latent_layer: bool = True) -> nn.Sequential:
    """udl's encoder (cpp/src/layers.cpp): conv + ReLU per convolution, flatten, then
    [dropout] linear + ReLU per hidden width, and the linear layer to the latent code."""
    layers: list[nn.Module] = []
    for c in convolutions(spec):
        layers += [nn.Conv2d(c.in_channels, c.out_channels, c.kernel, c.stride, c.padding)]
        layers += [nn.ReLU()]
    layers.append(nn.Flatten())
    features = _flat_features(spec)
    for width in spec.hidden_widths:
        if spec.dropout > 0:
            layers.append(nn.Dropout(spec.dropout))
        layers += [nn.Linear(features, width), nn.ReLU()]
        features = width
    if latent_layer:
        layers.append(nn.Linear(features, spec.latent_dim))
    return nn.Sequential(*layers)


def decoder_layers(spec: udl.AutoencoderSpec) -> nn.Sequential:
    """udl's decoder: linear + ReLU [+ dropout with decoder_dropout] per hidden width in
    reverse, linear to the flattened conv output (+ ReLU), unflatten, then transposed
    convolutions + ReLU whose output padding restores each input size; the last gives logits."""
    convs = convolutions(spec)
    layers: list[nn.Module] = []
    features = spec.latent_dim
    for width in reversed(spec.hidden_widths):
        layers += [nn.Linear(features, width), nn.ReLU()]
        if spec.dropout > 0 and spec.decoder_dropout:
            layers.append(nn.Dropout(spec.dropout))
        features = width
    shape = _conv_output_shape(spec)
    layers.append(nn.Linear(features, shape[0] * shape[1] * shape[2]))
    if convs:
        layers.append(nn.ReLU())
    layers.append(nn.Unflatten(1, shape))
    for i in reversed(range(len(convs))):
        c = convs[i]
        layers.append(
            nn.ConvTranspose2d(
                c.out_channels,
                c.in_channels,
                c.kernel,
                c.stride,
                c.padding,
                output_padding=c.output_padding,
            )
        )
        if i > 0:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class Autoencoder(nn.Module):
    """udl's Autoencoder: its layers, in its order (the state_dict keys match udl's)."""

    def __init__(self, spec: udl.AutoencoderSpec) -> None:
        super().__init__()
        self.encoder = encoder_layers(spec)
        self.decoder = decoder_layers(spec)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(images))  # logits


class Vae(nn.Module):
    """udl's Vae (cpp/src/vae.cpp): the encoder up to its last hidden ReLU, mean and
    log-variance heads, z = mean + exp(log_variance / 2) * noise while training (z = mean
    otherwise), and the autoencoder's decoder."""

    def __init__(self, spec: udl.AutoencoderSpec) -> None:
        super().__init__()
        self.encoder = encoder_layers(spec, latent_layer=False)
        features = [_flat_features(spec), *spec.hidden_widths][-1]
        self.mean = nn.Linear(features, spec.latent_dim)
        self.log_variance = nn.Linear(features, spec.latent_dim)
        self.decoder = decoder_layers(spec)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.encoder(images)
        mean, log_variance = self.mean(hidden), self.log_variance(hidden)
        z = mean
        if self.training:
            z = mean + torch.exp(0.5 * log_variance) * torch.randn_like(mean)
        return self.decoder(z), mean, log_variance


def vae_loss(
    output: tuple[torch.Tensor, torch.Tensor, torch.Tensor], images: torch.Tensor
) -> torch.Tensor:
    """udl's VAE loss per image: squared error summed over the pixels, plus beta times the
    KL divergence from N(0, I) summed over the latent dimensions, both averaged over the batch."""
    logits, mean, log_variance = output
    n = len(images)
    reconstruction = F.mse_loss(torch.sigmoid(logits), images, reduction="sum") / n
    kl = -0.5 * torch.sum(1 + log_variance - mean.pow(2) - log_variance.exp()) / n
    return reconstruction + VAE["beta"] * kl


def dcgan_networks(
    noise_dim: int, image_shape: Sequence[int] = (1, 28, 28)
) -> tuple[nn.Sequential, nn.Sequential]:
    """udl's DCGAN (cpp/src/gan.cpp), generator and discriminator, initialised as udl does:
    conv and linear weights N(0, 0.02), batch-norm scales N(1, 0.02), biases zero."""
    channels, height, width = image_shape
    h, w = height // 4, width // 4
    generator = nn.Sequential(
        nn.Linear(noise_dim, 128 * h * w),
        nn.BatchNorm1d(128 * h * w),
        nn.ReLU(),
        nn.Unflatten(1, (128, h, w)),
        nn.ConvTranspose2d(128, 64, 4, stride=2, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.ConvTranspose2d(64, channels, 4, stride=2, padding=1),
        nn.Tanh(),
    )
    discriminator = nn.Sequential(
        nn.Conv2d(channels, 64, 4, stride=2, padding=1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(64, 128, 4, stride=2, padding=1),
        nn.BatchNorm2d(128),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(128 * h * w, 1),
    )
    with torch.no_grad():
        for module in (*generator, *discriminator):
            weight = getattr(module, "weight", None)
            if weight is None:
                continue
            if weight.dim() >= 2:
                weight.normal_(0.0, 0.02)
            else:
                weight.normal_(1.0, 0.02)
            module.bias.zero_()
    return generator, discriminator


# --- FLOPs per training image -------------------------------------------------------------
# Forward multiply-adds of every conv, transposed conv and linear layer, x 2 (a multiply-add
# is two flops) x 3 (the backward pass costs about twice the forward). Activations, batch
# norm, dropout and the losses are left out; so are the validation pass's forward FLOPs, whose
# time the images/s include, so GFLOP/s slightly understates the work where there is one.


def autoencoder_macs(spec: udl.AutoencoderSpec, *, latent_heads: int = 1) -> int:
    """Forward multiply-adds of one image through the encoder and decoder; a VAE has two
    latent heads (mean and log-variance)."""
    widths = [_flat_features(spec), *spec.hidden_widths]
    macs = 2 * sum(c.macs for c in convolutions(spec))  # each conv and its mirror
    macs += 2 * sum(a * b for a, b in itertools.pairwise(widths))  # hidden layers, mirrored
    macs += (latent_heads + 1) * widths[-1] * spec.latent_dim  # to the latent code and back
    return macs


def dcgan_macs(noise_dim: int, image_shape: Sequence[int] = (1, 28, 28)) -> tuple[int, int]:
    """Forward multiply-adds of one image through the generator and the discriminator."""
    channels, height, width = image_shape
    quarter, half = (height // 4) * (width // 4), (height // 2) * (width // 2)
    generator = noise_dim * 128 * quarter + 128 * 64 * 16 * quarter + 64 * channels * 16 * half
    discriminator = channels * 64 * 16 * half + 64 * 128 * 16 * quarter + 128 * quarter
    return generator, discriminator


def autoencoder_flops(spec: udl.AutoencoderSpec, *, latent_heads: int = 1) -> float:
    """Training FLOPs per image: 2 x 3 x the forward multiply-adds."""
    return 6.0 * autoencoder_macs(spec, latent_heads=latent_heads)


def dcgan_flops(noise_dim: int, image_shape: Sequence[int] = (1, 28, 28)) -> float:
    """Training FLOPs per real image, G and D the forward multiply-adds per image of the
    generator and discriminator: 2 x (4 G + 9 D). Per batch udl (and the mirror) run the
    discriminator step, G forward without gradients (G) and D forward and backward on the
    real and the generated batch (2 x 3 D), then the generator step, G and D forward and
    backward (3 G + 3 D)."""
    generator, discriminator = dcgan_macs(noise_dim, image_shape)
    return 2.0 * (4 * generator + 9 * discriminator)


# --- the training runs --------------------------------------------------------------------


def _report(side: str, epoch: int, seconds: float, losses: str) -> None:
    print(f"    {side:7s} epoch {epoch}: {seconds:6.2f} s  {losses}", flush=True)


def _udl_callback(record: udl.EpochRecord | udl.vae.VaeEpochRecord) -> None:
    _report("udl", record.epoch, record.seconds, _losses(record.train_loss, record.val_loss))


def _losses(train: float, val: float | None) -> str:
    return f"train loss {train:.5f}" + ("" if val is None else f", val loss {val:.5f}")


def _udl_epoch_seconds(train, *args, epochs: int, threads: int, **settings) -> list[float]:
    """Seconds of every epoch of one udl autoencoder or VAE run, early stopping off."""
    result = train(
        *args,
        **settings,
        epochs=epochs,
        seed=SEED,
        early_stopping=False,
        threads=threads,
        callback=_udl_callback,
    )
    return [r.seconds for r in result.history]


def udl_cae(images: udl.datasets.ImageSet, epochs: int, threads: int) -> list[float]:
    return _udl_epoch_seconds(
        udl.train_cae, images, **CAE, **CAE_TRAINING, epochs=epochs, threads=threads
    )


def udl_report001(images: udl.datasets.ImageSet, epochs: int, threads: int) -> list[float]:
    return _udl_epoch_seconds(
        udl.train_autoencoder,
        REPORT001_SPEC,
        images,
        **REPORT001_TRAINING,
        epochs=epochs,
        threads=threads,
    )


def udl_vae(images: udl.datasets.ImageSet, epochs: int, threads: int) -> list[float]:
    return _udl_epoch_seconds(
        udl.train_vae, images, **VAE, **VAE_TRAINING, epochs=epochs, threads=threads
    )


def udl_dcgan(images: udl.datasets.ImageSet, epochs: int, threads: int) -> list[float]:
    def progress(record: udl.gan.GanEpochRecord) -> None:
        losses = f"D loss {record.discriminator_loss:.4f}, G loss {record.generator_loss:.4f}"
        _report("udl", record.epoch, record.seconds, losses)

    result = udl.train_gan(
        images,
        architecture="dcgan",
        **DCGAN,
        epochs=epochs,
        seed=SEED,
        threads=threads,
        callback=progress,
    )
    return [r.seconds for r in result.history]


def train_pytorch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[object, torch.Tensor], torch.Tensor],
    train: torch.Tensor,
    val: torch.Tensor,
    batch_size: int,
    epochs: int,
) -> list[float]:
    """The idiomatic loop: seconds of every epoch (training and validation)."""
    loader = DataLoader(TensorDataset(train), batch_size=batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(val), batch_size=batch_size)
    seconds = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        train_loss = 0.0
        for (images,) in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), images)
            loss.backward()
            optimizer.step()
            train_loss += loss.item() * len(images)
        model.eval()
        with torch.no_grad():
            val_loss = sum(loss_fn(model(x), x).item() * len(x) for (x,) in val_loader)
        seconds.append(time.perf_counter() - start)
        _report(
            "pytorch", epoch, seconds[-1], _losses(train_loss / len(train), val_loss / len(val))
        )
    return seconds


def reconstruction_loss(loss: str) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """udl's autoencoder losses on logits: MSE of the sigmoid, or BCE with logits."""
    if loss == "bce":
        return nn.BCEWithLogitsLoss()
    return lambda logits, images: F.mse_loss(torch.sigmoid(logits), images)


def _pytorch_autoencoder(
    spec: udl.AutoencoderSpec,
    training: dict[str, float | int | str],
    train: torch.Tensor,
    val: torch.Tensor,
    epochs: int,
) -> list[float]:
    torch.manual_seed(SEED)
    model = Autoencoder(spec)
    optimizer = torch.optim.Adam(
        model.parameters(), lr=training["lr"], weight_decay=training.get("weight_decay", 0.0)
    )
    loss_fn = reconstruction_loss(str(training["loss"]))
    return train_pytorch(model, optimizer, loss_fn, train, val, int(training["batch_size"]), epochs)


def pytorch_cae(train: torch.Tensor, val: torch.Tensor | None, epochs: int) -> list[float]:
    assert val is not None
    spec = udl.AutoencoderSpec.conv_autoencoder(CAE["nf"], CAE["latent_dim"])
    return _pytorch_autoencoder(spec, CAE_TRAINING, train, val, epochs)


def pytorch_report001(train: torch.Tensor, val: torch.Tensor | None, epochs: int) -> list[float]:
    assert val is not None
    return _pytorch_autoencoder(REPORT001_SPEC, REPORT001_TRAINING, train, val, epochs)


def pytorch_vae(train: torch.Tensor, val: torch.Tensor | None, epochs: int) -> list[float]:
    assert val is not None
    torch.manual_seed(SEED)
    model = Vae(udl.AutoencoderSpec.conv_autoencoder(VAE["nf"], VAE["latent_dim"]))
    optimizer = torch.optim.Adam(model.parameters(), lr=VAE_TRAINING["lr"])
    return train_pytorch(model, optimizer, vae_loss, train, val, VAE_TRAINING["batch_size"], epochs)


def pytorch_dcgan(train: torch.Tensor, val: torch.Tensor | None, epochs: int) -> list[float]:
    """The DCGAN loop as udl runs it: per batch a discriminator step on the real batch and
    on the generator's output for fresh noise (made without gradients), then a generator
    step from the same noise. `train` holds images in [-1, 1]."""
    torch.manual_seed(SEED)
    generator, discriminator = dcgan_networks(DCGAN["noise_dim"], train.shape[1:])
    betas = (DCGAN["beta1"], DCGAN["beta2"])
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=DCGAN["lr"], betas=betas)
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=DCGAN["lr"], betas=betas)
    bce = nn.BCEWithLogitsLoss()
    loader = DataLoader(TensorDataset(train), batch_size=DCGAN["batch_size"], shuffle=True)
    seconds = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        generator.train()
        discriminator.train()
        d_sum = g_sum = real_sum = fake_sum = 0.0
        for (real,) in loader:
            noise = torch.randn(len(real), DCGAN["noise_dim"])
            with torch.no_grad():
                fake = generator(noise)
            d_optimizer.zero_grad()
            real_logits = discriminator(real).view(-1)
            fake_logits = discriminator(fake).view(-1)
            d_loss = bce(real_logits, torch.ones_like(real_logits)) + bce(
                fake_logits, torch.zeros_like(fake_logits)
            )
            d_loss.backward()
            d_optimizer.step()
            g_optimizer.zero_grad()
            logits = discriminator(generator(noise)).view(-1)
            g_loss = bce(logits, torch.ones_like(logits))
            g_loss.backward()
            g_optimizer.step()
            n = len(real)
            d_sum += d_loss.item() * n
            g_sum += g_loss.item() * n
            real_sum += torch.sigmoid(real_logits).mean().item() * n  # udl's D(x) and
            fake_sum += torch.sigmoid(fake_logits).mean().item() * n  # D(G(z)), as udl
        seconds.append(time.perf_counter() - start)
        losses = f"D loss {d_sum / len(train):.4f}, G loss {g_sum / len(train):.4f}"
        _report("pytorch", epoch, seconds[-1], losses)
    return seconds


# --- the benchmark ------------------------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """One benchmarked model: its data, its two trainings and its cost per image."""

    title: str
    dataset: str
    validation: bool  # a validation split and pass (not the GAN)
    flops_per_image: float  # training FLOPs per training image
    train_udl: Callable[[udl.datasets.ImageSet, int, int], list[float]]
    train_pytorch: Callable[[torch.Tensor, torch.Tensor | None, int], list[float]]


MODELS = {
    "cae": Model(
        "report-000 CAE (nf 16, latent 10), batch 256, Adam 1e-3, MSE",
        "fashion-mnist",
        True,
        autoencoder_flops(udl.AutoencoderSpec.conv_autoencoder(CAE["nf"], CAE["latent_dim"])),
        udl_cae,
        pytorch_cae,
    ),
    "report001": Model(
        "report 001's best architecture, batch 383, Adam 2.89e-3, BCE, no pruning",
        "mnist",
        True,
        autoencoder_flops(REPORT001_SPEC),
        udl_report001,
        pytorch_report001,
    ),
    "vae": Model(
        "report-000 VAE (nf 8, latent 2, beta 0.8), batch 256, Adam 1e-3",
        "fashion-mnist",
        True,
        autoencoder_flops(
            udl.AutoencoderSpec.conv_autoencoder(VAE["nf"], VAE["latent_dim"]), latent_heads=2
        ),
        udl_vae,
        pytorch_vae,
    ),
    "dcgan": Model(
        "DCGAN (noise 100), batch 64, Adam 2e-4 betas (0.5, 0.999), no validation",
        "fashion-mnist",
        False,
        dcgan_flops(DCGAN["noise_dim"]),
        udl_dcgan,
        pytorch_dcgan,
    ),
}


@dataclass(frozen=True)
class Result:
    """A model's best epochs: images per second of each side, and udl's GFLOP/s."""

    model: str
    udl_rate: float
    pytorch_rate: float
    udl_gflops: float
    peak_gflops: float

    @property
    def ratio(self) -> float:
        return self.udl_rate / self.pytorch_rate

    def row(self) -> str:
        return (
            f"| {self.model} | {self.udl_rate:,.0f} | {self.pytorch_rate:,.0f} | "
            f"{self.ratio:.2f}x | {self.udl_gflops:.1f} | "
            f"{100 * self.udl_gflops / self.peak_gflops:.1f}% |"
        )


def peak_gflops(threads: int, size: int = 4096, repeats: int = 5) -> float:
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best / 1e9


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def split(
    images: udl.datasets.ImageSet, validation: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """PyTorch's data: floats in [0, 1] split as udl splits (seeded, VAL_FRACTION held out),
    or, for the GAN, all images scaled to [-1, 1] as udl scales them."""
    pixels = torch.tensor(images.images, dtype=torch.float32).div_(255)
    if not validation:
        return pixels.mul_(2).sub_(1), None
    n_val = max(1, round(VAL_FRACTION * len(pixels)))
    order = torch.randperm(len(pixels), generator=torch.Generator().manual_seed(SEED))
    return pixels[order[n_val:]], pixels[order[:n_val]]


def benchmark(
    name: str, images: udl.datasets.ImageSet, args: argparse.Namespace, peak: float
) -> Result:
    model = MODELS[name]
    train, val = split(images, model.validation)
    held_out = "" if val is None else f" (+ {len(val)} validation)"
    print(f"\n{name}: {model.title}; {model.dataset}")
    print(f"  {len(train)} training images per epoch{held_out}", flush=True)
    udl_seconds: list[float] = []
    pytorch_seconds: list[float] = []
    for repeat in range(1, args.repeats + 1):
        print(f"  run {repeat} of {args.repeats}")
        udl_seconds += model.train_udl(images, args.epochs, args.threads)
        torch.set_num_threads(args.threads)
        pytorch_seconds += model.train_pytorch(train, val, args.epochs)

    flops = model.flops_per_image
    rates = {"udl": len(train) / min(udl_seconds), "pytorch": len(train) / min(pytorch_seconds)}
    print(f"  {flops / 1e6:.1f} MFLOP per training image")
    for side, rate in rates.items():
        gflops = rate * flops / 1e9
        print(
            f"  {side:8s} {rate:8.0f} images/s  {gflops:6.1f} GFLOP/s  "
            f"{100 * gflops / peak:5.1f}% of peak"
        )
    print(f"  udl / pytorch speed: {rates['udl'] / rates['pytorch']:.2f}x", flush=True)
    return Result(name, rates["udl"], rates["pytorch"], rates["udl"] * flops / 1e9, peak)


def table(results: Sequence[Result]) -> str:
    header = [
        "| model | udl images/s | PyTorch images/s | udl/PyTorch | udl GFLOP/s | % of peak |",
        "|---|---|---|---|---|---|",
    ]
    return "\n".join(header + [r.row() for r in results])


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _model_names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown models {unknown}; choose from {', '.join(MODELS)}"
        )
    return names


def main(argv: Sequence[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=_model_names, default=list(MODELS))
    parser.add_argument("--epochs", type=int, default=2, help="per run")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side, interleaved")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--subset", type=int, help="only the first N training images")
    parser.add_argument(
        "--peak-size", type=int, default=4096, help="side of the peak's matrices (torch.mm)"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    peak = peak_gflops(args.threads, args.peak_size)
    threads = _count(args.threads, "thread")
    runs = f"{_count(args.repeats, 'run')} of {_count(args.epochs, 'epoch')}"
    print(f"{threads}; {runs} each side, interleaved")
    print(f"peak (torch.mm {args.peak_size}^2, {threads}): {peak:.0f} GFLOP/s")
    datasets: dict[str, udl.datasets.ImageSet] = {}
    results = []
    for name in args.models:
        dataset = MODELS[name].dataset
        if dataset not in datasets:
            images = udl.datasets.load(dataset).train
            datasets[dataset] = (
                images if args.subset is None else images.subset(slice(0, args.subset))
            )
        results.append(benchmark(name, datasets[dataset], args, peak))

    print(f"\nbest epoch of each side; {threads}; peak {peak:.0f} GFLOP/s\n")
    print(table(results))
    return results


if __name__ == "__main__":
    main()
