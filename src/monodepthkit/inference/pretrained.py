"""Model folders (`save_pretrained` / `from_pretrained`) through huggingface_hub's mixin.

A folder (or Hub repository) holds:

- ``model.safetensors``: the task's weights;
- ``config.json``: the task class, its hyper-parameters, the training size, whether the output is
  metric, the camera intrinsics when known, and the model-card facts;
- ``README.md``: a model card (architecture, training data, evaluation metrics when known,
  intended use).

``PretrainedDepthModel.from_pretrained("user/repo")`` downloads from the Hub with the usual
caching; a local folder needs no network.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Sequence

import lightning as L
import numpy as np
from huggingface_hub import ModelCard, PyTorchModelHubMixin
from torch import Tensor, nn

from monodepthkit.errors import MdkError
from monodepthkit.inference.metadata import jsonable

_CARD_TEMPLATE = """---
{{ card_data }}
---

# {{ title }}

Monocular depth estimation model made with
[monodepthkit](https://github.com/monodepthkit/monodepthkit): one RGB image in, one depth map out.

## Architecture

{{ architecture }}

## Output

{{ output }}

## Training data

{{ training_data }}

## Evaluation

{{ evaluation }}

## Intended use

{{ intended_use }}

## Usage

```python
from monodepthkit import Predictor

predictor = Predictor.from_pretrained("{{ repo_id }}")
depth = predictor("image.png")  # [H, W] float32 {{ unit }}
```

or `mdk predict image.png --checkpoint {{ repo_id }} --out predictions/`.
"""

DEFAULT_INTENDED_USE = (
    "Research and prototyping of monocular depth estimation on images resembling the training "
    "data. Depth from a single image is ambiguous and degrades outside the training domain; do "
    "not use it for safety-critical decisions."
)


class PretrainedDepthModel(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="monodepthkit",
    pipeline_tag="depth-estimation",
    tags=["monocular-depth-estimation", "monodepthkit"],
    model_card_template=_CARD_TEMPLATE,
):
    """A task rebuilt from its class path and hyper-parameters, saved with its weights.

    Args:
        task_class: import path of the task, e.g. ``monodepthkit.tasks.supervised.SupervisedTask``.
        hyper_parameters: the task's constructor arguments (JSON types).
        input_size: (height, width) the model was trained at, or None.
        is_metric: whether the depth is metric (False: relative, the predictor gives disparity).
        intrinsics: [3, 3] K in pixels of ``intrinsics_size`` images, or None.
        intrinsics_size: (height, width) of ``intrinsics``.
        info: model-card facts (``model``, ``training_data``, ``metrics``, ``intended_use``).

    ``forward(image)`` is the task's: image [B, 3, H, W] in [0, 1] -> ``{"depth": ...}``.
    """

    def __init__(
        self,
        task_class: str,
        hyper_parameters: dict,
        input_size: list[int] | None = None,
        is_metric: bool = True,
        intrinsics: list[list[float]] | None = None,
        intrinsics_size: list[int] | None = None,
        info: dict | None = None,
    ) -> None:
        super().__init__()
        module_name, _, class_name = task_class.rpartition(".")
        try:
            cls = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError, ValueError):
            raise MdkError(
                f"model folder: task class '{task_class}' not found; update monodepthkit"
            ) from None
        self.task = cls(**hyper_parameters)
        self.task.eval()
        self.input_size = tuple(input_size) if input_size else None
        self.is_metric = bool(is_metric)
        self.intrinsics = None if intrinsics is None else np.asarray(intrinsics, np.float64)
        self.intrinsics_size = tuple(intrinsics_size) if intrinsics_size else None
        self.info = dict(info or {})

    @classmethod
    def from_task(
        cls,
        task: nn.Module,
        input_size: Sequence[int] | None = None,
        is_metric: bool = True,
        intrinsics: np.ndarray | None = None,
        intrinsics_size: Sequence[int] | None = None,
        info: dict | None = None,
    ) -> PretrainedDepthModel:
        """Wrap a trained task (a LightningModule with saved hyper-parameters), sharing weights."""
        if not isinstance(task, L.LightningModule) or not hasattr(task, "hparams"):
            raise MdkError(
                "save_pretrained needs a monodepthkit task (a LightningModule with saved "
                f"hyper-parameters), got {type(task).__name__}"
            )
        hparams = {k: v for k, v in dict(task.hparams).items() if not k.startswith("_")}
        model = cls(
            task_class=f"{type(task).__module__}.{type(task).__qualname__}",
            hyper_parameters=jsonable(hparams),
            input_size=None if input_size is None else [int(v) for v in input_size],
            is_metric=is_metric,
            intrinsics=None if intrinsics is None else np.asarray(intrinsics).tolist(),
            intrinsics_size=None if intrinsics_size is None else [int(v) for v in intrinsics_size],
            info=jsonable(info or {}),
        )
        model.task.load_state_dict(task.state_dict())
        return model.eval()

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Image [B, 3, H, W] in [0, 1] -> the task's output dict (``depth`` [B, 1, H, W])."""
        return self.task(image)

    def generate_model_card(self, *args, **kwargs) -> ModelCard:
        """The model card: architecture, output, training data, metrics and intended use."""
        info = self.info
        model_name = info.get("model", type(getattr(self.task, "net", self.task)).__name__)
        options = info.get("model_kwargs") or {}
        architecture = f"`{model_name}`" + (
            f" with {json.dumps(options, sort_keys=True)}" if options else ""
        )
        architecture += (
            f", trained by `{info.get('task') or type(self.task).__name__}`; "
            f"{sum(p.numel() for p in self.task.parameters()):,} parameters."
        )
        if self.input_size:
            architecture += f" Trained at {self.input_size[0]}x{self.input_size[1]} (H x W)."
        if self.is_metric:
            output, unit = "Metric z-depth in metres.", "depth in metres"
        else:
            output = (
                "Relative depth: the predictor returns disparity (1 / depth) up to an unknown "
                "global scale; align it to metric values (e.g. median scaling)."
            )
            unit = "disparity (relative scale)"
        kwargs = {
            "title": info.get("title", f"monodepthkit {model_name}"),
            "architecture": architecture,
            "output": output,
            "unit": unit,
            "training_data": info.get("training_data", "Not recorded."),
            "evaluation": _metrics_text(info.get("metrics")),
            "intended_use": info.get("intended_use", DEFAULT_INTENDED_USE),
            "repo_id": kwargs.get("repo_id", "path/to/model_folder"),
            **kwargs,
        }
        return super().generate_model_card(*args, **kwargs)


def _metrics_text(metrics) -> str:
    """Metric dicts (those holding abs_rel, rmse or d1) as one table; other facts as a list."""
    if not metrics:
        return "No evaluation recorded with this model."
    if not isinstance(metrics, dict):
        return f"```\n{json.dumps(metrics, indent=2)}\n```"
    if any(key in metrics for key in _METRIC_KEYS):
        metrics = {"model": metrics}
    tables = {k: v for k, v in metrics.items() if isinstance(v, dict) and _METRIC_KEYS & set(v)}
    lines = []
    if tables:
        names = list(dict.fromkeys(n for row in tables.values() for n in row if _is_number(row[n])))
        lines += ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
        for group, row in tables.items():
            cells = [f"{row[n]:.4g}" if _is_number(row.get(n)) else "" for n in names]
            lines.append(f"| {group} | " + " | ".join(cells) + " |")
        lines.append("")
    for key, value in metrics.items():
        if key not in tables:
            lines.append(f"- {key}: {json.dumps(value) if isinstance(value, dict) else value}")
    return "\n".join(lines).strip()


_METRIC_KEYS = {"abs_rel", "rmse", "d1"}


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
