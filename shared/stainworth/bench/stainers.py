"""Stainer training throughput against a bare PyTorch loop, and bfloat16 autocast against float32.

Training: the same model (same seed, the ``mini`` profile's stainer settings: network sizes, bf16
autocast, loss terms), batch size and in-memory data, trained once through stainworth's loop
(:func:`~stainworth.stainers.fit.fit`: chunk-shuffled batches, normalisation, the default dihedral
augmentation, NaN checks, per-epoch validation and checkpoint) and once by a bare loop that calls
the network, the same loss terms and the optimiser directly on pre-made tensors, under the same
autocast. Each is run three times, interleaved, after a warm-up; the fastest run of each is
compared (items per second; the stainworth loop's time is its training epoch, validation apart).

bf16: an EfficientUNet trained briefly in float32 on synthetic blob images is evaluated on held-out
images with and without bfloat16 autocast: SSIM against the targets and inference time.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from stainworth.bench.table import Row
from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.nets.normalise import PercentileNormaliser
from stainworth.stainers.adapters import GANStainer, RegressionStainer, build_stainer
from stainworth.stainers.batches import PairedBatches
from stainworth.stainers.fit import fit
from stainworth.stainers.losses import HybridLoss, ssim

IDENTITY = (PercentileNormaliser(0.0, 1.0), PercentileNormaliser(0.0, 1.0))


def profile_stainer_config(architecture: str, *, batch: int, profile: str = "mini") -> StainerTrainConfig:
    """The profile's stainer training settings for ``architecture`` with batches of ``batch``."""
    from stainworth.profiles import load_profile

    training = load_profile(profile).stain.training
    return training.model_copy(update={"architecture": architecture, "batch_size": batch})


def synthetic_pairs(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Smooth random label-free images and a fixed non-linear, blurred function of them as targets."""
    rng = np.random.default_rng(seed)
    label_free = ndimage.gaussian_filter(rng.random((n, size, size)), (0, 3, 3)).astype(np.float32)
    label_free = (label_free - label_free.mean()) / label_free.std()
    target = ndimage.gaussian_filter(np.clip(label_free, 0, None) ** 2, (0, 1, 1)).astype(np.float32)
    return label_free, target


def _bare_epoch(stainer: RegressionStainer | GANStainer, tensors: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Seconds for one pass of direct network/loss/optimiser calls over pre-made batches."""
    started = time.perf_counter()
    if isinstance(stainer, RegressionStainer):
        net, optimiser, loss_fn = stainer.generator, stainer.optimizer, HybridLoss(stainer.loss.alpha)
        net.train()
        for x, y in tensors:
            optimiser.zero_grad(set_to_none=True)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=stainer.bf16):
                prediction = net(x)
            loss_fn(prediction.float(), y).backward()
            optimiser.step()
    else:
        from stainworth.stainers.pix2pixhd.losses import discriminator_loss, generator_loss

        stainer.generator.train()
        stainer.discriminator.train()
        for x, y in tensors:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=stainer.bf16):
                fake = stainer.generator(x).float()
            stainer.optimizer_d.zero_grad(set_to_none=True)
            discriminator_loss(stainer.discriminator, x, fake.detach(), y)[0].backward()
            stainer.optimizer_d.step()
            stainer.optimizer_g.zero_grad(set_to_none=True)
            generator_loss(stainer.discriminator, x, fake, y, lambda_fm=stainer.lambda_fm,
                           lambda_l1=stainer.lambda_l1)[0].backward()
            stainer.optimizer_g.step()
    return time.perf_counter() - started


def bench_training(architecture: str, *, size: int = 64, batch: int = 8, batches: int = 6,
                   repeats: int = 3) -> list[Row]:
    """Items/s of stainworth's training loop and of a bare loop on the same model and data."""
    config = profile_stainer_config(architecture, batch=batch)
    x, y = synthetic_pairs(batch * batches, size, seed=0)
    val = synthetic_pairs(batch, size, seed=1)
    tensors = [(torch.from_numpy(x[k:k + batch])[:, None], torch.from_numpy(y[k:k + batch])[:, None])
               for k in range(0, len(x), batch)]
    torch.manual_seed(0)
    ours_stainer, bare_stainer = build_stainer(config), build_stainer(config)
    ours, bare = [], []
    with tempfile.TemporaryDirectory(prefix="stainworth-bench-") as scratch:
        _bare_epoch(bare_stainer, tensors[:1])  # warm-up
        ours_stainer.train_step(*tensors[0])
        for repeat in range(repeats):
            bare.append(_bare_epoch(bare_stainer, tensors))
            one_epoch = config.model_copy(update={"max_epochs": 1, "patience": 1, "seed": repeat, "bf16": False})
            result = fit(ours_stainer, PairedBatches(x, y, IDENTITY, batch_size=batch, augment=config.augment),
                         PairedBatches(*val, IDENTITY, batch_size=batch), Path(scratch) / str(repeat), one_epoch,
                         alpha=0.9, log=lambda line: None)
            ours.append(result.history[0]["seconds"])
    items = len(x)
    best_ours, best_bare = items / min(ours), items / min(bare)
    terms = ("alpha * MSE + (1 - alpha) * (1 - SSIM)" if config.architecture == "efficientunet" else
             f"GAN + {config.pix2pixhd.lambda_fm:g} x feature matching + {config.pix2pixhd.lambda_l1:g} x L1")
    note = (f"{architecture} (mini settings, bf16 {'on' if config.bf16 else 'off'}; both loops: {terms}), "
            f"batch {batch} of {size}x{size}, {items} items; fastest of {repeats}")
    return [Row(f"train {architecture}: bare PyTorch loop", best_bare, best_bare, "items/s", note),
            Row(f"train {architecture}: stainworth loop", best_ours, best_bare, "items/s",
                "ratio = throughput vs the bare loop; goal >= 0.95")]


def bench_bf16(*, size: int = 96, steps: int = 60, batch: int = 8) -> list[Row]:
    """SSIM and inference time of a briefly trained EfficientUNet with and without bf16 autocast."""
    x, y = synthetic_pairs(batch * steps, size, seed=2)
    test_x, test_y = synthetic_pairs(32, size, seed=3)
    torch.manual_seed(0)
    stainer = build_stainer(StainerTrainConfig.model_validate({"architecture": "efficientunet"}))
    assert isinstance(stainer, RegressionStainer)
    for k in range(0, len(x), batch):
        stainer.train_step(torch.from_numpy(x[k:k + batch])[:, None], torch.from_numpy(y[k:k + batch])[:, None])
    net = stainer.generator.eval()
    inputs, targets = torch.from_numpy(test_x)[:, None], torch.from_numpy(test_y)[:, None]
    results = {}
    for name, enabled in (("float32", False), ("bf16 autocast", True)):
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=enabled):
            net(inputs[:batch])
            started = time.perf_counter()
            prediction = torch.cat([net(inputs[k:k + batch]).float() for k in range(0, len(inputs), batch)])
            seconds = time.perf_counter() - started
        score = float(ssim(prediction, targets, data_range=float(targets.max() - targets.min())).mean())
        results[name] = (score, seconds)
    (ssim32, time32), (ssim16, time16) = results["float32"], results["bf16 autocast"]
    note = f"EfficientUNet-b0 after {steps} float32 steps; {len(inputs)} held-out {size}x{size} images"
    return [Row("stainer SSIM, float32 inference", ssim32, ssim32, "", note),
            Row("stainer SSIM, bf16 autocast inference", ssim16, ssim32, "", "ratio: bf16 SSIM / float32 SSIM"),
            Row("stainer inference time, bf16 autocast", time16, time32, "s",
                f"reference: float32 {time32:.2f} s; ratio < 1: bf16 faster")]
