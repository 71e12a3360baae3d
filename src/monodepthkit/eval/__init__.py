"""Evaluation: depth metrics, the KITTI/NYU protocols (range, crop, alignment) and reports.

Typical use::

    from monodepthkit.eval import DepthEvaluator, get_protocol

    evaluator = DepthEvaluator(get_protocol("kitti"), align="median", kind="disparity")
    for name, disparity, gt in samples:        # disparity [h, w], gt [H, W] metres, 0 = none
        evaluator.add(name, disparity, gt)
    print(evaluator.summary())                 # nine metric means + count
    evaluator.write("runs/eval")               # metrics.json + per_image.csv
"""

import importlib

# Lazy (PEP 562), so that the `mdk` parser can read `monodepthkit.eval.modes` without torch.
_EXPORTS: dict[str, str] = {
    "HIGHER_IS_BETTER": "metrics",
    "METRIC_KEYS": "metrics",
    "compute_metrics": "metrics",
    "ALIGN_MODES": "modes",
    "PREDICTION_KINDS": "modes",
    "PROTOCOL_NAMES": "modes",
    "accumulate_snippet": "pose",
    "compute_ate": "pose",
    "evaluate_pose_sequence": "pose",
    "make_snippets": "pose",
    "read_kitti_poses": "pose",
    "relative_poses_from_global": "pose",
    "snippet_ate": "pose",
    "CROPS": "protocol",
    "Protocol": "protocol",
    "align_prediction": "protocol",
    "crop_box": "protocol",
    "evaluate_image": "protocol",
    "evaluation_mask": "protocol",
    "fit_alignment": "protocol",
    "get_protocol": "protocol",
    "resize_prediction": "protocol",
    "DepthEvaluator": "report",
    "PredictionIndex": "report",
    "evaluate_folders": "report",
    "evaluate_saved_predictions": "report",
    "markdown_table": "report",
}


__all__ = [
    "ALIGN_MODES",
    "CROPS",
    "HIGHER_IS_BETTER",
    "METRIC_KEYS",
    "PREDICTION_KINDS",
    "PROTOCOL_NAMES",
    "DepthEvaluator",
    "PredictionIndex",
    "Protocol",
    "accumulate_snippet",
    "align_prediction",
    "compute_ate",
    "compute_metrics",
    "crop_box",
    "evaluate_folders",
    "evaluate_image",
    "evaluate_pose_sequence",
    "evaluate_saved_predictions",
    "evaluation_mask",
    "fit_alignment",
    "get_protocol",
    "make_snippets",
    "markdown_table",
    "read_kitti_poses",
    "relative_poses_from_global",
    "resize_prediction",
    "snippet_ate",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"monodepthkit.eval.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'monodepthkit.eval' has no attribute '{name}'")
