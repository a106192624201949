"""Differentiable SSIM and the EfficientUNet's hybrid loss, ``alpha * MSE + (1 - alpha) * (1 - SSIM)``.

SSIM follows Wang et al. (2004): local means, variances and covariance under an 11 x 11 Gaussian
window of sigma 1.5, constants ``C1 = (0.01 L)^2`` and ``C2 = (0.03 L)^2``. Images are compared
in the normalised intensity space of :mod:`stainworth.nets.normalise`, where the training
split's 1st..99.8th percentile spans 0..1, so ``L = 1``. The mean is taken over the valid region
of the window (no padding), as scikit-image does with ``gaussian_weights=True``.

References
----------
.. [1] Wang Z, Bovik AC, Sheikh HR, Simoncelli EP (2004). Image quality assessment: from error
       visibility to structural similarity. IEEE Trans Image Process 13(4):600-612.
       doi:10.1109/TIP.2003.819861
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

WINDOW = 11
SIGMA = 1.5


def _gaussian_kernel(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    coordinates = torch.arange(WINDOW, device=device, dtype=torch.float64) - (WINDOW - 1) / 2
    profile = torch.exp(-(coordinates**2) / (2 * SIGMA**2))
    profile = profile / profile.sum()
    return torch.outer(profile, profile).to(dtype).view(1, 1, WINDOW, WINDOW)


def ssim(prediction: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM per image of (N, 1, H, W) batches (H, W >= 11); returns (N,).

    Parameters
    ----------
    prediction, target
        Equally shaped (N, 1, H, W) tensors.
    data_range
        Dynamic range L of the images.
    """
    if prediction.shape != target.shape or prediction.dim() != 4 or prediction.shape[1] != 1:
        raise ValueError(f"ssim: prediction {tuple(prediction.shape)} and target {tuple(target.shape)}; "
                         "expected equal (N, 1, H, W)")
    kernel = _gaussian_kernel(prediction.device, prediction.dtype)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mu_x, mu_y = F.conv2d(prediction, kernel), F.conv2d(target, kernel)
    xx = F.conv2d(prediction * prediction, kernel) - mu_x**2
    yy = F.conv2d(target * target, kernel) - mu_y**2
    xy = F.conv2d(prediction * target, kernel) - mu_x * mu_y
    index = ((2 * mu_x * mu_y + c1) * (2 * xy + c2)) / ((mu_x**2 + mu_y**2 + c1) * (xx + yy + c2))
    return index.mean(dim=(1, 2, 3))


class HybridLoss(nn.Module):
    """``alpha * MSE + (1 - alpha) * (1 - SSIM)`` over a batch (the study's EfficientUNet loss).

    Parameters
    ----------
    alpha
        Weight of the MSE term, in [0, 1]; 0.9 by default.
    """

    def __init__(self, alpha: float = 0.9) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"hybrid loss: alpha {alpha}; expected 0 <= alpha <= 1")
        self.alpha = float(alpha)

    def forward(self, prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Scalar loss."""
        mse = F.mse_loss(prediction, target)
        if self.alpha == 1.0:
            return mse
        return self.alpha * mse + (1.0 - self.alpha) * (1.0 - ssim(prediction, target).mean())
