import pytest
import torch
import torch.nn.functional as F
from torch import nn

from stainworth.nets.padding import crop_back, pad_to_multiple
from stainworth.stainers.pix2pixhd.discriminator import MultiscaleDiscriminator, NLayerDiscriminator
from stainworth.stainers.pix2pixhd.generator import (
    GlobalGenerator,
    LocalEnhancer,
    build_pix2pixhd_generator,
    generate,
    required_multiple,
)
from stainworth.stainers.pix2pixhd.losses import discriminator_loss, feature_matching_loss, gan_loss, generator_loss

SMALL = {"ngf": 8, "n_downsampling": 2, "n_blocks": 2, "n_blocks_local": 1}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def n_parameters(module):
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.parametrize("kind", ["global", "local"])
@pytest.mark.parametrize("shape", [(1, 1, 50, 70), (2, 1, 37, 64)])
def test_output_has_the_input_shape_for_any_size(kind, shape):
    torch.manual_seed(0)
    generator = build_pix2pixhd_generator(kind, ngf=8, n_downsampling=3, n_blocks=2, n_blocks_local=1)
    x = torch.rand(shape)
    with torch.no_grad():
        assert generate(generator, x).shape == shape
        assert generator(x).shape == shape


def test_required_multiple_and_aligned_forward():
    assert required_multiple(GlobalGenerator(ngf=4, n_downsampling=3, n_blocks=0)) == 8
    assert required_multiple(LocalEnhancer(ngf=4, n_downsampling_global=2, n_blocks_global=0, n_local_enhancers=2,
                                           n_blocks_local=0)) == 16
    generator = GlobalGenerator(ngf=4, n_downsampling=2, n_blocks=1)
    with pytest.raises(ValueError, match="multiples of 4"):
        generator.forward_aligned(torch.zeros(1, 1, 30, 32))


def test_pad_and_crop_round_trip():
    x = torch.arange(2 * 37 * 5, dtype=torch.float32).view(1, 2, 37, 5)
    padded, pads = pad_to_multiple(x, 16)
    assert padded.shape[-2:] == (48, 16)
    assert torch.equal(crop_back(padded, pads), x)


def test_local_enhancer_without_enhancers_is_the_global_generator():
    torch.manual_seed(0)
    global_generator = GlobalGenerator(ngf=8, n_downsampling=2, n_blocks=1)
    torch.manual_seed(0)
    local = LocalEnhancer(ngf=8, n_downsampling_global=2, n_blocks_global=1, n_local_enhancers=0)
    x = torch.rand(1, 1, 24, 20)
    with torch.no_grad():
        assert torch.equal(global_generator(x), local(x))


@pytest.mark.parametrize("norm, layer", [("instance", torch.nn.InstanceNorm2d), ("batch", torch.nn.BatchNorm2d)])
def test_norm_option_sets_every_normalisation_layer(norm, layer):
    generator = build_pix2pixhd_generator("local", ngf=4, n_downsampling=2, n_blocks=1, n_blocks_local=1, norm=norm)
    discriminator = MultiscaleDiscriminator(ndf=4, n_layers=2, num_d=2, norm=norm)
    norms = [m for net in (generator, discriminator) for m in net.modules()
             if isinstance(m, torch.nn.InstanceNorm2d | torch.nn.BatchNorm2d)]
    assert norms and all(type(m) is layer for m in norms)


def test_batch_norm_generator_in_eval_mode_does_not_depend_on_the_batch():
    torch.manual_seed(0)
    generator = build_pix2pixhd_generator("global", ngf=4, n_downsampling=2, n_blocks=1, norm="batch")
    x = torch.rand(3, 1, 16, 16)
    generator(x)  # training mode: updates the running statistics
    generator.eval()
    with torch.no_grad():
        assert torch.allclose(generator(x)[:1], generator(x[:1]), atol=1e-6)


def test_build_rejects_unknown_kind_and_bad_sizes():
    with pytest.raises(ValueError, match="expected 'global' or 'local'"):
        build_pix2pixhd_generator("unet")
    with pytest.raises(ValueError, match="expected >= 0"):
        GlobalGenerator(n_blocks=-1)
    with pytest.raises(ValueError, match="norm 'layer'"):
        GlobalGenerator(ngf=4, n_blocks=0, norm="layer")


def test_multiscale_discriminator_features():
    torch.manual_seed(0)
    n_layers, num_d = 3, 3
    discriminator = MultiscaleDiscriminator(in_channels=2, ndf=8, n_layers=n_layers, num_d=num_d)
    features = discriminator(torch.rand(2, 2, 64, 64))
    assert len(features) == num_d
    assert all(len(scale) == n_layers + 2 for scale in features)
    assert all(scale[-1].shape[:2] == (2, 1) for scale in features)
    for finer, coarser in zip(features, features[1:], strict=False):
        for a, b in zip(finer, coarser, strict=True):
            assert a.shape[:2] == b.shape[:2]
            assert b.shape[-1] < a.shape[-1] and b.shape[-2] < a.shape[-2]


def test_feature_matching_is_zero_for_identical_features_and_positive_otherwise():
    torch.manual_seed(0)
    discriminator = MultiscaleDiscriminator(ndf=8, n_layers=2, num_d=2)
    pair = torch.rand(1, 2, 32, 32)
    real = discriminator(pair)
    assert feature_matching_loss(discriminator(pair), real).item() == 0.0
    assert feature_matching_loss(discriminator(pair + 0.5 * torch.rand_like(pair)), real).item() > 0.0


def test_feature_matching_weights_follow_the_reference():
    # One scale of n_layers = 1 (3 features): weight 4 / (n_layers + 1) = 2 on each of the first 2 layers.
    fake = [[torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.full((1, 1, 2, 2), 9.0)]]
    real = [[torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)]]
    assert feature_matching_loss(fake, real).item() == pytest.approx(2.0)
    assert feature_matching_loss(fake + fake, real + real).item() == pytest.approx(2.0)  # 1 / num_d per scale


def test_gan_loss_is_mse_to_ones_or_zeros_summed_over_scales():
    torch.manual_seed(0)
    logits = [torch.randn(2, 1, 5, 5), torch.randn(2, 1, 3, 3)]
    features = [[torch.randn(2, 4, 9, 9), logit] for logit in logits]
    expected_real = F.mse_loss(logits[0], torch.ones_like(logits[0])).item()
    assert gan_loss(features[:1], True).item() == pytest.approx(expected_real)
    expected_fake = sum(F.mse_loss(logit, torch.zeros_like(logit)).item() for logit in logits)
    assert gan_loss(features, False).item() == pytest.approx(expected_fake)


def test_losses_return_named_parts_and_the_discriminator_loss_spares_the_generator():
    torch.manual_seed(0)
    generator = GlobalGenerator(ngf=4, n_downsampling=2, n_blocks=1)
    discriminator = MultiscaleDiscriminator(ndf=4, n_layers=2, num_d=2)
    x = torch.rand(1, 1, 32, 32)
    fake = generator(x)
    total_d, parts_d = discriminator_loss(discriminator, x, fake, 2 * x)
    total_d.backward()
    assert all(p.grad is None for p in generator.parameters())
    assert parts_d["d_total"] == pytest.approx(0.5 * (parts_d["d_real"] + parts_d["d_fake"]))
    total_g, parts_g = generator_loss(discriminator, x, fake, 2 * x, lambda_fm=10.0)
    assert parts_g["g_total"] == pytest.approx(parts_g["g_gan"] + parts_g["g_fm"])
    total_g.backward()
    assert all(p.grad is not None for p in generator.parameters())
    assert "g_l1" not in parts_g


def test_the_l1_term_adds_its_weighted_mean_absolute_error():
    torch.manual_seed(0)
    discriminator = MultiscaleDiscriminator(ndf=4, n_layers=2, num_d=1)
    x, fake, real = torch.rand(3, 2, 1, 16, 16)
    plain, _ = generator_loss(discriminator, x, fake, real)
    total, parts = generator_loss(discriminator, x, fake, real, lambda_l1=100.0)
    assert parts["g_l1"] == pytest.approx(100.0 * (fake - real).abs().mean().item(), rel=1e-5)
    assert total.item() == pytest.approx(plain.item() + parts["g_l1"], rel=1e-5)


def test_adversarial_training_overfits_one_pair():
    torch.manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 32), torch.linspace(0, 1, 32), indexing="ij")
    label_free = (0.5 + 0.5 * torch.sin(6 * xx) * torch.cos(4 * yy)).view(1, 1, 32, 32)
    fluorescence = 2 * label_free
    generator = build_pix2pixhd_generator("global", ngf=8, n_downsampling=2, n_blocks=2)
    discriminator = MultiscaleDiscriminator(ndf=8, n_layers=2, num_d=2)
    optimizer_g = torch.optim.Adam(generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    optimizer_d = torch.optim.Adam(discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    with torch.no_grad():
        initial = (generator(label_free) - fluorescence).abs().mean().item()
    for _ in range(40):
        fake = generator(label_free)
        optimizer_d.zero_grad()
        discriminator_loss(discriminator, label_free, fake, fluorescence)[0].backward()
        optimizer_d.step()
        optimizer_g.zero_grad()
        generator_loss(discriminator, label_free, fake, fluorescence)[0].backward()
        optimizer_g.step()
    with torch.no_grad():
        final = (generator(label_free) - fluorescence).abs().mean().item()
    assert final < 0.3 * initial


@pytest.mark.parametrize("kind", ["global", "local"])
def test_same_seed_same_generator(kind):
    x = torch.rand(1, 1, 40, 40)
    built = []
    for _ in range(2):
        torch.manual_seed(0)
        built.append(build_pix2pixhd_generator(kind, **SMALL))
    first, second = (dict(g.state_dict()) for g in built)
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
    with torch.no_grad():
        assert torch.equal(built[0](x), built[1](x))
    torch.manual_seed(1)
    other = build_pix2pixhd_generator(kind, **SMALL)
    assert not all(torch.equal(a, b) for a, b in zip(first.values(), other.state_dict().values(), strict=True))


def test_reference_initialisation():
    torch.manual_seed(0)
    discriminator = NLayerDiscriminator(ndf=64, n_layers=3)
    weights = torch.cat([m.weight.flatten() for m in discriminator.modules() if isinstance(m, nn.Conv2d)])
    assert weights.mean().abs().item() < 1e-3
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)


@pytest.mark.parametrize("kind", ["global", "local"])
def test_output_is_linear_and_capacity_grows_with_ngf(kind):
    generator = build_pix2pixhd_generator(kind, **SMALL)
    last = generator.head[-1]
    assert isinstance(last, nn.Conv2d)
    assert not any(isinstance(m, nn.Tanh | nn.Sigmoid) for m in generator.modules())
    with torch.no_grad():
        last.bias.fill_(3.0)
        assert generator(torch.rand(1, 1, 16, 16)).min().item() > 1.0
    sizes = [n_parameters(build_pix2pixhd_generator(kind, **(SMALL | {"ngf": ngf}))) for ngf in (4, 8, 16)]
    assert sizes[0] < sizes[1] < sizes[2]


@pytest.mark.parametrize("kind", ["global", "local"])
def test_resize_upsampling_has_no_period_two_checkerboard_at_initialisation(kind):
    from stainworth.stainers.pix2pixhd.generator import build_pix2pixhd_generator

    def checkerboard(upsample):
        torch.manual_seed(0)
        generator = build_pix2pixhd_generator(kind, ngf=8, n_downsampling=2, n_blocks=1, n_blocks_local=1,
                                              upsample=upsample).eval()
        with torch.no_grad():
            out = generator(torch.full((1, 1, 64, 64), 0.5))[0, 0, 8:-8, 8:-8]  # a flat input, away from the border
        even = out[0::2, 0::2].mean() + out[1::2, 1::2].mean()
        odd = out[0::2, 1::2].mean() + out[1::2, 0::2].mean()
        return float((even - odd).abs() / (out.std() + 1e-12))

    assert checkerboard("transposed") > 10 * checkerboard("resize")
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in
                   build_pix2pixhd_generator(kind, ngf=8, n_downsampling=2, n_blocks=1, upsample="resize").modules())
