"""Importers of published weights: each turns another project's files into a monodepthkit
checkpoint that `load_task`, the predictor and `mdk eval` read without a config."""

__all__ = ["import_monodepth2"]


def __getattr__(name: str):
    # Lazy, so that building the `mdk` parser (checkpoints.cli) does not import torch.
    if name == "import_monodepth2":
        from monodepthkit.checkpoints.monodepth2 import import_monodepth2

        return import_monodepth2
    raise AttributeError(f"module 'monodepthkit.checkpoints' has no attribute '{name}'")
