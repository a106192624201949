"""Pix2pixHD for virtual staining: one label-free channel in, one fluorescence channel out.

Modules: :mod:`.blocks` (norms, weight init, convolution stages), :mod:`.generator`,
:mod:`.discriminator` and :mod:`.losses`.

Follows Wang et al. (2018) [1]_ and NVIDIA's reference implementation: a global generator
(ResNet encoder-decoder), optionally wrapped by local enhancers that work at twice its
resolution, and K PatchGAN discriminators at scales 1, 1/2, 1/4, ... that are conditional
(they see ``concat(label_free, fluorescence)``). Training minimises the study's Eq. 1,

    min_G ( max_{D_1..D_K} sum_k L_GAN(G, D_k) + lambda_FM sum_k L_FM(G, D_k) ),  lambda_FM = 10,

with least-squares GAN losses and discriminator feature matching, both as in the reference
(no VGG perceptual loss: Eq. 1 has none, and it would need downloaded ImageNet weights).

Adaptations to microscopy:

- The generator's output is linear (no ``Tanh``). Stainers work in the normalised intensity
  space of :mod:`stainworth.nets.normalise`, where the training split's 1st..99.8th
  percentile spans 0..1 and bright structures legitimately exceed 1; a ``Tanh`` would clip them.
- Generators accept any image size: ``forward`` (= :func:`.generator.generate`) reflection-pads the input
  to :func:`.generator.required_multiple`, runs the network (``forward_aligned``) and crops back.

Normalisation is the reference's ``--norm`` choice: ``"instance"`` (``InstanceNorm2d(affine=False)``,
its default) or ``"batch"`` (``BatchNorm2d``), in the generator and the discriminators alike.
Instance statistics are taken per image and channel, so on a patch that is mostly flat
background or debris they blow near-constant features up to unit variance; with batch
statistics the network sees how weak such features are against the batch (see docs/stainers.md
for what this does on the real ISL example). Weights are drawn as in the reference
(convolutions N(0, 0.02), affine norms N(1, 0.02)) from torch's global generator, so networks
built after the same ``torch.manual_seed`` are identical.

References
----------
.. [1] Wang TC, Liu MY, Zhu JY, Tao A, Kautz J, Catanzaro B (2018). High-resolution image
       synthesis and semantic manipulation with conditional GANs. CVPR. arXiv:1711.11585
"""
