import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from stainworth.stainers.losses import HybridLoss, ssim


def test_ssim_matches_scikit_image_with_gaussian_weights():
    rng = np.random.default_rng(0)
    a = rng.random((40, 50)).astype(np.float32)
    b = np.clip(a + 0.2 * rng.standard_normal(a.shape), 0, 1).astype(np.float32)
    expected = structural_similarity(a, b, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False)
    got = ssim(torch.from_numpy(b)[None, None], torch.from_numpy(a)[None, None])
    # scikit-image averages over the image cropped by the window radius; so does ssim (valid convolution)
    assert float(got) == pytest.approx(expected, abs=2e-3)


def test_identical_images_score_one_and_the_hybrid_loss_is_zero():
    x = torch.rand(2, 1, 32, 32)
    assert torch.allclose(ssim(x, x), torch.ones(2), atol=1e-5)
    assert float(HybridLoss(0.9)(x, x)) == pytest.approx(0.0, abs=1e-5)


def test_hybrid_loss_weights_mse_and_ssim_by_alpha():
    x, y = torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32)
    mse, structure = float(torch.mean((x - y) ** 2)), 1.0 - float(ssim(x, y))
    assert float(HybridLoss(0.3)(x, y)) == pytest.approx(0.3 * mse + 0.7 * structure, rel=1e-5)
    assert float(HybridLoss(1.0)(x, y)) == pytest.approx(mse, rel=1e-6)


def test_bad_alpha_and_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="alpha 1.5"):
        HybridLoss(1.5)
    with pytest.raises(ValueError, match=r"prediction \(1, 1, 16, 16\) and target \(1, 1, 16, 17\)"):
        ssim(torch.zeros(1, 1, 16, 16), torch.zeros(1, 1, 16, 17))
