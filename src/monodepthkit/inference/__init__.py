"""Using trained models: the predictor, file writers, video, export and the demo app."""

__all__ = ["Predictor"]


def __getattr__(name: str):
    # Lazy, so that building the `mdk` parser (which imports inference.cli) does not import torch.
    if name == "Predictor":
        from monodepthkit.inference.predictor import Predictor

        return Predictor
    raise AttributeError(f"module 'monodepthkit.inference' has no attribute '{name}'")
