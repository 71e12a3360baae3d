"""monodepthkit: train, evaluate and use monocular depth estimation models."""

from monodepthkit.errors import MdkError

__version__ = "0.1.0"
__all__ = ["MdkError", "Predictor", "__version__"]


def __getattr__(name: str):
    # Lazy, so that `import monodepthkit` (and every `mdk` command) does not import torch.
    if name == "Predictor":
        from monodepthkit.inference.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'monodepthkit' has no attribute '{name}'")
