"""Evaluation: depth metrics, the KITTI/NYU protocols (range, crop, alignment) and reports.

Typical use::

    from monodepthkit.eval import DepthEvaluator, get_protocol

    evaluator = DepthEvaluator(get_protocol("kitti"), align="median", kind="disparity")
    for name, disparity, gt in samples:        # disparity [h, w], gt [H, W] metres, 0 = none
        evaluator.add(name, disparity, gt)
    print(evaluator.summary())                 # nine metric means + count
    evaluator.write("runs/eval")               # metrics.json + per_image.csv
"""

from monodepthkit.eval.metrics import HIGHER_IS_BETTER, METRIC_KEYS, compute_metrics
from monodepthkit.eval.pose import (
    accumulate_snippet,
    compute_ate,
    evaluate_pose_sequence,
    make_snippets,
    read_kitti_poses,
    relative_poses_from_global,
    snippet_ate,
)
from monodepthkit.eval.protocol import (
    ALIGN_MODES,
    CROPS,
    PREDICTION_KINDS,
    Protocol,
    align_prediction,
    crop_box,
    evaluate_image,
    evaluation_mask,
    fit_alignment,
    get_protocol,
    resize_prediction,
)
from monodepthkit.eval.report import (
    DepthEvaluator,
    PredictionIndex,
    evaluate_folders,
    evaluate_saved_predictions,
    markdown_table,
)

__all__ = [
    "ALIGN_MODES",
    "CROPS",
    "HIGHER_IS_BETTER",
    "METRIC_KEYS",
    "PREDICTION_KINDS",
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
