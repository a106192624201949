"""Pix2pixHD's losses, the study's Eq. 1: least-squares GAN and feature matching, per side."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from stainworth.stainers.pix2pixhd.discriminator import Features


def gan_loss(prediction_features: Features, target_is_real: bool) -> Tensor:
    """Least-squares GAN loss: MSE of each scale's patch logits to 1 (real) or 0 (fake), summed over scales.

    The sum over scales is Eq. 1's ``sum_k L_GAN(G, D_k)`` and the reference's ``GANLoss``.
    """
    target = 1.0 if target_is_real else 0.0
    terms = [F.mse_loss(scale[-1], torch.full_like(scale[-1], target)) for scale in prediction_features]
    return torch.stack(terms).sum()


def feature_matching_loss(fake_features: Features, real_features: Features) -> Tensor:
    """L1 between the discriminator's features of fake and real images, every layer but the logits.

    Weighted as the reference: ``4 / (n_layers + 1)`` per layer and ``1 / num_d`` per scale.
    Real features are detached. ``lambda_FM`` is not applied here.
    """
    if len(fake_features) != len(real_features) or any(
            len(f) != len(r) for f, r in zip(fake_features, real_features, strict=True)):
        raise ValueError("feature matching: fake and real features come from differently shaped discriminators")
    loss = fake_features[0][-1].new_zeros(())
    for fake_scale, real_scale in zip(fake_features, real_features, strict=True):
        weight = 4.0 / (len(fake_scale) - 1) / len(fake_features)
        for fake, real in zip(fake_scale[:-1], real_scale[:-1], strict=True):
            loss = loss + weight * F.l1_loss(fake, real.detach())
    return loss


def generator_loss(discriminator: nn.Module, label_free: Tensor, fake: Tensor, real: Tensor,
                   lambda_fm: float = 10.0, lambda_l1: float = 0.0) -> tuple[Tensor, dict[str, float]]:
    """Generator side of Eq. 1: ``L_GAN(fake judged real) + lambda_fm * L_FM`` (``+ lambda_l1 * L1``).

    Parameters
    ----------
    discriminator
        The conditional :class:`~stainworth.stainers.pix2pixhd.discriminator.MultiscaleDiscriminator`
        (or a module returning :data:`Features`).
    label_free, fake, real
        (N, 1, H, W) input, generator output (not detached) and target fluorescence.
    lambda_fm
        Weight of feature matching.
    lambda_l1
        Weight of the mean absolute error to the target, pix2pix's data term (Isola et al.
        2017); 0, the default, is the study's Eq. 1.

    Returns
    -------
    total
        The loss to back-propagate into the generator (it also fills the discriminator's
        gradients: zero them before the discriminator step).
    parts
        ``g_gan``, ``g_fm`` (already times ``lambda_fm``), ``g_l1`` (times ``lambda_l1``; only
        when it is not 0) and ``g_total``.
    """
    fake_features = discriminator(torch.cat((label_free, fake), dim=1))
    with torch.no_grad():
        real_features = discriminator(torch.cat((label_free, real), dim=1))
    adversarial = gan_loss(fake_features, True)
    matching = lambda_fm * feature_matching_loss(fake_features, real_features)
    total = adversarial + matching
    parts = {"g_gan": adversarial.item(), "g_fm": matching.item()}
    if lambda_l1:
        data = lambda_l1 * F.l1_loss(fake, real)
        total = total + data
        parts["g_l1"] = data.item()
    return total, parts | {"g_total": total.item()}


def discriminator_loss(discriminator: nn.Module, label_free: Tensor, fake: Tensor, real: Tensor
                       ) -> tuple[Tensor, dict[str, float]]:
    """Discriminator side of Eq. 1: ``0.5 * (L_GAN(real judged real) + L_GAN(fake judged fake))``.

    ``fake`` is detached, so no gradient reaches the generator.

    Returns
    -------
    total
        The loss to back-propagate into the discriminator.
    parts
        ``d_real``, ``d_fake`` and ``d_total``.
    """
    fake_loss = gan_loss(discriminator(torch.cat((label_free, fake.detach()), dim=1)), False)
    real_loss = gan_loss(discriminator(torch.cat((label_free, real), dim=1)), True)
    total = 0.5 * (real_loss + fake_loss)
    return total, {"d_real": real_loss.item(), "d_fake": fake_loss.item(), "d_total": total.item()}
