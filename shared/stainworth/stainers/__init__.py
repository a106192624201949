"""Virtual stainers: label-free in, fluorescence out.

Two architectures of the study, built by name from a :class:`~stainworth.contracts.stainer.StainerTrainConfig`
(:func:`build_stainer`): the EfficientUNet (:mod:`.efficientunet`, hybrid MSE/SSIM loss) and
Pix2pixHD (:mod:`.pix2pixhd`, conditional GAN with feature matching). :func:`train_stainer`
trains one on a dataset and writes a stainer folder; :func:`load_stainer` reads it back.
"""

from stainworth.stainers.adapters import build_stainer
from stainworth.stainers.artifact import TrainedStainer, load_stainer, save_stainer
from stainworth.stainers.train import train_stainer

__all__ = ["TrainedStainer", "build_stainer", "load_stainer", "save_stainer", "train_stainer"]
