"""One training step and one prediction for each kind of stainer, behind one interface.

:class:`RegressionStainer` trains a network on a pixel loss (the EfficientUNet with the hybrid
loss); :class:`GANStainer` trains Pix2pixHD's generator against its multi-scale discriminators.
The training loop (:mod:`stainworth.stainers.fit`) sees only :class:`Stainer`.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from stainworth.contracts.stainer import StainerTrainConfig
from stainworth.nets.devices import autocast, module_device
from stainworth.stainers.losses import HybridLoss


class Stainer(Protocol):
    """What the training loop needs from a stainer."""

    generator: nn.Module
    """The network that turns label-free into fluorescence (kept after training)."""

    def parts(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """Everything a checkpoint must hold, by name."""
        ...

    def train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """One optimisation step; returns the losses (``"loss"`` is the one watched for NaN)."""
        ...


class RegressionStainer:
    """A generator trained directly on ``alpha * MSE + (1 - alpha) * (1 - SSIM)`` with Adam.

    The generator is trained on the device it is on; CPU batches are moved there step by step.
    """

    def __init__(self, generator: nn.Module, *, alpha: float, learning_rate: float, bf16: bool = False) -> None:
        self.generator, self.bf16 = generator, bf16
        self.device = module_device(generator)
        self.loss = HybridLoss(alpha)
        self.optimizer = torch.optim.Adam(generator.parameters(), lr=learning_rate)

    def parts(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """Generator and its optimiser."""
        return {"generator": self.generator, "optimizer": self.optimizer}

    def train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """One Adam step on the hybrid loss."""
        self.generator.train()
        inputs, targets = inputs.to(self.device), targets.to(self.device)
        self.optimizer.zero_grad(set_to_none=True)
        with autocast(self.bf16, self.device):
            prediction = self.generator(inputs)
        loss = self.loss(prediction.float(), targets)
        loss.backward()
        self.optimizer.step()
        return {"loss": float(loss.detach())}


class GANStainer:
    """Pix2pixHD: generator and multi-scale discriminators, adversarial plus feature-matching loss."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module, *, lambda_fm: float, learning_rate: float,
                 beta1: float, bf16: bool = False, lambda_l1: float = 0.0) -> None:
        self.generator, self.discriminator, self.lambda_fm, self.bf16 = generator, discriminator, lambda_fm, bf16
        self.lambda_l1 = lambda_l1
        self.device = module_device(generator)
        betas = (beta1, 0.999)
        self.optimizer_g = torch.optim.Adam(generator.parameters(), lr=learning_rate, betas=betas)
        self.optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=learning_rate, betas=betas)

    def parts(self) -> dict[str, nn.Module | torch.optim.Optimizer]:
        """Both networks and both optimisers."""
        return {"generator": self.generator, "discriminator": self.discriminator,
                "optimizer_g": self.optimizer_g, "optimizer_d": self.optimizer_d}

    def train_step(self, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        """One discriminator step, then one generator step (Wang et al. 2018, Eq. 1 of the study)."""
        from stainworth.stainers.pix2pixhd.losses import discriminator_loss, generator_loss

        self.generator.train()
        self.discriminator.train()
        inputs, targets = inputs.to(self.device), targets.to(self.device)
        with autocast(self.bf16, self.device):
            fake = self.generator(inputs).float()
        self.optimizer_d.zero_grad(set_to_none=True)
        loss_d, parts_d = discriminator_loss(self.discriminator, inputs, fake.detach(), targets)
        loss_d.backward()
        self.optimizer_d.step()
        self.optimizer_g.zero_grad(set_to_none=True)
        loss_g, parts_g = generator_loss(self.discriminator, inputs, fake, targets, lambda_fm=self.lambda_fm,
                                        lambda_l1=self.lambda_l1)
        loss_g.backward()
        self.optimizer_g.step()
        return {"loss": float(loss_g.detach()), "loss_d": float(loss_d.detach()), **parts_g, **parts_d}


def build_stainer(config: StainerTrainConfig, *, alpha: float | None = None, encoder_weights: str | None = None,
                  device: torch.device | str = "cpu") -> RegressionStainer | GANStainer:
    """The stainer ``config.architecture`` names, freshly initialised from torch's global seed, on ``device``.

    Parameters
    ----------
    config
        Training configuration.
    alpha
        Overrides ``config.efficientunet.alpha`` (grid search).
    encoder_weights
        Local file of ImageNet encoder weights for the EfficientUNet (already fetched).
    device
        Where it trains (its optimisers are made there).
    """
    if config.architecture == "efficientunet":
        from stainworth.nets.efficientunet import build_efficientunet

        unet = config.efficientunet
        return RegressionStainer(build_efficientunet(unet.encoder, encoder_weights=encoder_weights,
                                                     norm=unet.norm, padding=unet.padding).to(device),
                                 alpha=unet.alpha if alpha is None else alpha, learning_rate=unet.learning_rate,
                                 bf16=config.bf16)
    from stainworth.stainers.pix2pixhd.discriminator import MultiscaleDiscriminator
    from stainworth.stainers.pix2pixhd.generator import build_pix2pixhd_generator

    gan = config.pix2pixhd
    generator = build_pix2pixhd_generator(gan.generator, ngf=gan.ngf, n_downsampling=gan.n_downsampling,
                                          n_blocks=gan.n_blocks, n_blocks_local=gan.n_blocks_local, norm=gan.norm,
                                          upsample=gan.upsample)
    discriminator = MultiscaleDiscriminator(in_channels=2, ndf=gan.ndf, n_layers=gan.n_layers_d, num_d=gan.num_d,
                                            norm=gan.norm)
    return GANStainer(generator.to(device), discriminator.to(device), lambda_fm=gan.lambda_fm,
                      learning_rate=gan.learning_rate, beta1=gan.beta1, bf16=config.bf16, lambda_l1=gan.lambda_l1)
