"""monodepthkit: train, evaluate and use monocular depth estimation models."""

from monodepthkit.errors import MdkError

__version__ = "0.1.0"
__all__ = ["MdkError", "__version__"]
