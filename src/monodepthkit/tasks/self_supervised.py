"""Self-supervised training from video and/or stereo (report 5, Monodepth2; velocity of PackNet).

One training step, for a target image and its source views (temporal context frames and/or the
stereo partner); steps 3 to 5 are the pure functions of `monodepthkit.losses.view_synthesis`:

1. The depth network predicts a disparity and a depth per scale (four in Monodepth2) from the
   target image as the networks see it (colour-jittered in training).
2. Each source view gets the transform T_source_target: for a context frame at offset f the pose
   network sees the pair in temporal order, (image_f, image) when f < 0 (then the transform is
   inverted) and (image, image_f) when f > 0; the stereo partner gets the fixed baseline
   transform (a translation of ``stereo_baseline`` along x, signed as the batch's ``T_stereo``)
   or the batch's ``T_stereo`` itself.
3. Per scale, the depth is upsampled to the input resolution (full-resolution multi-scale; as
   inverse depth, which for Monodepth2 is exactly upsampling the disparity). With ``posecnn``
   the transform of each temporal frame is rebuilt for the scale from the axis-angle and the
   translation times the mean inverse depth of the scale's (upsampled) depth over the target's
   pixels, as Monodepth2's ``generate_images_pred`` does (the PoseCNN's translation is relative
   to the scene depth; see `monodepthkit.models.pose.PoseCNN`). Each un-jittered
   source view is warped into the target with it, and the photometric error (0.85 SSIM + 0.15
   L1) against the un-jittered target is combined over the source views by the per-pixel
   minimum, auto-masked against the errors of the unwarped source views.
4. Edge-aware smoothness of the scale's own disparity against the target image downsampled to
   that scale, weighted ``smoothness_weight / 2^scale``. The loss is the mean over scales.
5. Optional velocity supervision (PackNet): ``velocity_weight`` times the mean absolute
   difference between the norm of each predicted pose translation and ``|speed| * |dt|``, the
   distance the camera travelled (batch keys ``speed`` and ``dt_{offset:+d}``); it fixes the
   scale of mono training, so the depth is then metric. With ``posecnn`` it sees the translation
   the scale-0 warp uses (raw translation times the mean inverse scale-0 depth): only that one
   is in the depth's units, so only it ties the depth to metres. PackNet has no PoseCNN; this
   choice is ours.

Differences from Monodepth2: with ``posecnn`` in ``mono+stereo`` the stereo partner keeps its
fixed baseline transform (Monodepth2's code would look up a PoseCNN motion for the stereo frame
and fail); everything else of the PoseCNN scaling is as in its ``generate_images_pred``,
including the gradient that flows through the mean inverse depth.

Single-scale depth networks (the foundation models of `monodepthkit.models.foundation`, or any
registered network without ``num_scales``) train too: their one output is taken as scale 0, at
the input's full resolution, so the loss above has one term where Monodepth2 has four (scales
0-3 at 1, 1/2, 1/4, 1/8 of the input, each upsampled before warping). Nothing is averaged over
coarser scales, and the smoothness weight is ``smoothness_weight`` itself (the 2^scale divisor
is 1). Monodepth2 predicts several scales against the local minima that the bilinear sampler's
local gradients cause (its "multi-scale estimation"), which matters most for a decoder trained
from scratch; a pretrained foundation network already predicts structured depth, and its
decoder returns one map. The warp needs a positive, bounded depth: a relative foundation model (an
affine-invariant disparity) must map it to one with ``depth_model_kwargs.depth_range:
[min_depth, max_depth]`` (`monodepthkit.models.foundation`: a learnt, monotone sigmoid of its
disparity, Monodepth2's bounded disparity), or the task refuses it; a metric one (ZoeDepth, GLPN,
Depth Anything V2 ``metric_*``) is used as it is, its depth in metres (in ``mono`` mode the
task still counts it as relative: nothing in the loss keeps its scale). In the stereo modes a
metric network should warp with the calibrated baseline (``stereo_baseline: null``), so that it
keeps its metres instead of relearning Monodepth2's 5.4 times smaller depth.

The un-jittered images come from the batch keys ``unjittered_image*`` (set
``data.augment.keep_unjittered: true``); without them the loss compares the images the networks
saw.

Logged: ``train/loss``, ``train/photometric`` and ``train/smoothness`` (means over scales,
unweighted), ``train/automask`` (fraction of scale-0 pixels the auto-mask keeps),
``train/velocity`` with velocity supervision; validation logs ``val/loss`` (scale 0 only: the
depth network computes only scale 0 in eval mode) when the batch has the source views, and the
depth metrics when it has ground truth, median-scaled per image for a relative (mono) model.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from monodepthkit.data import batch as keys
from monodepthkit.data.batch import validate_batch
from monodepthkit.errors import MdkError
from monodepthkit.geometry.disparity import mean_inverse_depth
from monodepthkit.geometry.pose import transformation_from_parameters
from monodepthkit.losses.view_synthesis import velocity_loss, view_synthesis_loss
from monodepthkit.models import create_model
from monodepthkit.models.outputs import (
    DEPTH,
    DISPARITY,
    check_multiscale_depth_net,
    validate_outputs,
)
from monodepthkit.models.pose import create_pose_network
from monodepthkit.tasks.base import DepthTask
from monodepthkit.tasks.optim import adam_kwargs, match_state_layout

MODES = ("mono", "stereo", "mono+stereo")
REPROJECTION_REDUCTIONS = ("min", "mean")
EVAL_ALIGNMENTS = ("none", "median")
KITTI_STEREO_BASELINE = 0.54
"""Distance between KITTI's colour cameras in metres: a model trained with Monodepth2's fixed
0.1 baseline predicts depth 0.54 / 0.1 = 5.4 times too small."""


class SelfSupervisedTask(DepthTask):
    """Depth network ``net`` + pose network trained by view synthesis (Monodepth2).

    A `DepthTask` whose `forward` returns depth times `depth_scale`; it is metric or relative
    (`is_metric`) and its depth comes from a disparity (`predicts_disparity`).

    Args:
        depth_model: registry name of the depth network: a multi-scale one
            (`monodepthkit.models.outputs.MultiScaleDepthNet`: ``monodepth2``, ``packnet``),
            whose training mode gives ``disp_s`` / ``depth_s`` per scale, or a single-scale
            one (no ``num_scales``, or 1: the foundation models), trained at scale 0 only.
        depth_model_kwargs: its options, e.g. ``{"num_layers": 18, "pretrained": true}``; a
            relative foundation model needs ``depth_range`` (module docstring).
        pose_model: pose network kind (`monodepthkit.models.pose.create_pose_network`):
            ``separate``, ``shared`` or ``posecnn``; unused in ``stereo`` mode.
        pose_model_kwargs: its options, e.g. ``{"num_layers": 18, "pretrained": true}``.
        mode: ``mono`` (temporal context frames), ``stereo`` (the stereo partner only) or
            ``mono+stereo``.
        frame_offsets: temporal context frames; default ``[-1, 1]`` in the mono modes, none
            in ``stereo``. Set ``data.frame_offsets`` to the same list.
        stereo_baseline: Monodepth2's fixed stereo baseline (0.1): the partner's transform is a
            translation of this length along x with the sign of the batch's ``T_stereo``; None
            uses the batch's ``T_stereo`` itself (metric baseline).
        depth_scale: factor applied to the depth `forward` returns; None = 0.54 m /
            ``stereo_baseline`` (KITTI's 5.4) in the stereo modes with a fixed baseline, else 1.
        ssim_weight: weight ``alpha`` of the SSIM term in the photometric error (0.85).
        smoothness_weight: edge-aware smoothness weight at scale 0, divided by 2^scale (1e-3).
        automask: Monodepth2's auto-masking of pixels the unwarped source explains better.
        reprojection: ``min`` (per-pixel minimum reprojection) or ``mean`` (the paper's ablation).
        full_res_multiscale: upsample every scale's depth to the input size before warping;
            False computes each scale's loss at its own resolution (the paper's ablation).
        velocity_weight: weight of the velocity loss (PackNet uses 0.05); 0 = off. Needs batch
            keys ``speed`` and ``dt_{offset:+d}`` for the temporal offsets.
        lr: Adam learning rate (both networks).
        weight_decay: Adam weight decay.
        lr_milestones: epochs at which the learning rate is multiplied by ``lr_gamma``
            (Monodepth2: 1e-4, divided by 10 at epoch 15 of 20).
        lr_gamma: learning-rate decay factor.
        eval_protocol: protocol of the validation metrics (``none``, ``kitti``, ``nyu``).
        eval_min_depth: smallest ground truth evaluated, metres (None: the protocol's).
        eval_max_depth: largest ground truth evaluated, metres (None: the protocol's).
        eval_align: per-image alignment of the validation metrics, ``none`` or ``median``;
            None = ``median`` for a relative model (`is_metric` False), else ``none``.
        channels_last: convert the depth and pose networks' weights to channels-last memory
            when training starts (oneDNN's faster convolution kernels on the CPU; the same
            loss and gradients up to float rounding, tests/tasks/test_fast_path.py); None =
            on when training on the CPU, off elsewhere.
        adam_implementation: Adam's kernels (`monodepthkit.tasks.optim.adam_with_step_decay`):
            ``auto`` (fused where torch has it: CPU, CUDA), ``fused``, ``foreach``,
            ``for-loop`` or None (torch's default).

    The checkpoint stores these arguments, so `load_task` needs no config file.
    """

    def __init__(
        self,
        depth_model: str = "monodepth2",
        depth_model_kwargs: dict | None = None,
        pose_model: str = "separate",
        pose_model_kwargs: dict | None = None,
        mode: str = "mono",
        frame_offsets: list[int] | None = None,
        stereo_baseline: float | None = 0.1,
        depth_scale: float | None = None,
        ssim_weight: float = 0.85,
        smoothness_weight: float = 1e-3,
        automask: bool = True,
        reprojection: str = "min",
        full_res_multiscale: bool = True,
        velocity_weight: float = 0.0,
        lr: float = 1e-4,
        weight_decay: float = 0.0,
        lr_milestones: list[int] | None = None,
        lr_gamma: float = 0.1,
        eval_protocol: str = "none",
        eval_min_depth: float | None = None,
        eval_max_depth: float | None = None,
        eval_align: str | None = None,
        channels_last: bool | None = None,
        adam_implementation: str | None = "auto",
    ) -> None:
        super().__init__(eval_protocol, eval_min_depth, eval_max_depth)
        self.save_hyperparameters()
        _check_choice("mode", mode, MODES)
        _check_choice("reprojection", reprojection, REPROJECTION_REDUCTIONS)
        adam_kwargs(adam_implementation)  # an unknown name fails here, not at fit
        self.uses_stereo = mode != "mono"
        self.uses_frames = mode != "stereo"
        offsets = [-1, 1] if frame_offsets is None and self.uses_frames else frame_offsets or []
        self.frame_offsets = [int(offset) for offset in offsets]
        if self.uses_frames and (not self.frame_offsets or 0 in self.frame_offsets):
            raise MdkError(
                f"SelfSupervisedTask: mode '{mode}' needs non-zero frame_offsets, e.g. [-1, 1]; "
                f"got {frame_offsets}"
            )
        if not self.uses_frames and self.frame_offsets:
            raise MdkError(
                f"SelfSupervisedTask: mode 'stereo' uses no temporal frames but frame_offsets is "
                f"{frame_offsets}; use mode 'mono+stereo', or drop frame_offsets"
            )
        if stereo_baseline is not None and not stereo_baseline > 0:
            raise MdkError(
                f"SelfSupervisedTask: stereo_baseline must be > 0 (or null for the batch's "
                f"T_stereo), got {stereo_baseline}"
            )
        if velocity_weight < 0 or (velocity_weight > 0 and not self.uses_frames):
            raise MdkError(
                f"SelfSupervisedTask: velocity_weight must be >= 0 and needs a mono mode (it "
                f"supervises the pose network), got {velocity_weight} in mode '{mode}'"
            )
        for name, value in (("ssim_weight", ssim_weight), ("smoothness_weight", smoothness_weight)):
            if value < 0:
                raise MdkError(f"SelfSupervisedTask: {name} must be >= 0, got {value}")

        self.net = create_model(depth_model, **(depth_model_kwargs or {}))
        shares_encoder = self.uses_frames and pose_model == "shared"
        if shares_encoder:
            check_multiscale_depth_net(self.net, depth_model, share_features=True)
        if getattr(self.net, "affine_invariant", False):
            raise MdkError(
                f"SelfSupervisedTask: depth model '{depth_model}' predicts an affine-invariant "
                "disparity (a relative foundation model), which is no depth to warp with; set "
                "depth_model_kwargs.depth_range: [0.1, 100] (Monodepth2's min_depth, max_depth) "
                "to map it to a bounded depth, or use a metric variant"
            )
        # A network without scales of its own is single-scale: its output is scale 0.
        self.num_scales = int(getattr(self.net, "num_scales", 1))
        self.pose_net = None
        if self.uses_frames:
            pose_kwargs = dict(pose_model_kwargs or {})
            if shares_encoder:
                pose_kwargs.setdefault("depth_encoder_channels", list(self.net.encoder_channels))
            self.pose_net = create_pose_network(pose_model, **pose_kwargs)
        if depth_scale is None:
            fixed = self.uses_stereo and stereo_baseline is not None
            depth_scale = KITTI_STEREO_BASELINE / stereo_baseline if fixed else 1.0
        if not depth_scale > 0:
            raise MdkError(f"SelfSupervisedTask: depth_scale must be > 0, got {depth_scale}")
        self.depth_scale = float(depth_scale)
        self.eval_align = self.choose_eval_align(eval_align, EVAL_ALIGNMENTS)

    @property
    def is_metric(self) -> bool:
        """Whether the depth is metric: stereo or velocity supervision fixes the scale."""
        return self.uses_stereo or self.hparams.velocity_weight > 0

    @property
    def predicts_disparity(self) -> bool:
        """What the network declares; True when it is silent (Monodepth2, PackNet)."""
        return bool(getattr(getattr(self, "net", None), "predicts_disparity", True))

    def set_training_memory_format(self, device: torch.device) -> bool:
        """Convert the networks to channels-last memory if ``channels_last`` asks for it.

        Called when training starts (`on_train_start`); in place, so an optimiser built before
        keeps the same parameters (its state must then follow: `match_state_layout`).

        Args:
            device: the device training runs on (None ``channels_last``: on for the CPU).

        Returns:
            Whether the networks are now channels-last.
        """
        choice = self.hparams.get("channels_last")
        if not (device.type == "cpu" if choice is None else choice):
            return False
        self.net.to(memory_format=torch.channels_last)
        if self.pose_net is not None:
            self.pose_net.to(memory_format=torch.channels_last)
        return True

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Predict depth at the input size.

        Args:
            image: [B, 3, H, W] in [0, 1].

        Returns:
            ``{"depth": [B, 1, H, W], "disp": [B, 1, H, W]}``: depth times `depth_scale`
            (metres for a metric model, relative otherwise) and the network's disparity.
        """
        outputs = self.net(image)
        return {DEPTH: outputs[DEPTH] * self.depth_scale, DISPARITY: outputs[DISPARITY]}

    # --- the loss ------------------------------------------------------------------------

    def model_step(self, batch: dict) -> tuple[Tensor, dict[str, Tensor], dict[str, Tensor]]:
        """Loss, its logged terms and the depth network's outputs for one batch.

        Args:
            batch: the batch contract with ``image``, ``K``, ``image_{offset:+d}`` for the
                frame offsets and/or ``image_stereo`` + ``T_stereo``; optional
                ``unjittered_*`` copies, ``speed`` and ``dt_*``.

        Returns:
            ``(loss, terms, outputs)``; outputs are the depth network's (all scales in
            training mode, scale 0 in eval mode).
        """
        self._check_batch(batch)
        image = batch[keys.IMAGE]
        features = None
        if self.pose_net is not None and self.pose_net.needs_depth_features:
            features = self.net.encode(image)
            outputs = self.net.decode(features)
        else:
            outputs = self.net(image)
        validate_outputs(outputs, self.hparams.depth_model)
        transforms, motions = self.source_transforms(batch, features)
        sources = {key: _unjittered(batch, key) for key in transforms}
        relative_motions = None
        translations = {offset: translation for offset, (_, translation) in motions.items()}
        if self.pose_net is not None and self.pose_net.translation_times_mean_inverse_depth:
            relative_motions = {
                keys.context_image_key(offset): (axis_angle, translation, offset < 0)
                for offset, (axis_angle, translation) in motions.items()
            }
            # The velocity loss constrains the translation the scale-0 warp uses.
            scale0 = mean_inverse_depth(outputs[DEPTH])
            translations = {offset: t * scale0 for offset, t in translations.items()}
        hp = self.hparams
        loss, terms = view_synthesis_loss(
            outputs,
            _unjittered(batch, keys.IMAGE),
            sources,
            transforms,
            batch[keys.INTRINSICS],
            ssim_weight=hp.ssim_weight,
            smoothness_weight=hp.smoothness_weight,
            automask=hp.automask,
            reprojection=hp.reprojection,
            full_res_multiscale=hp.full_res_multiscale,
            relative_motions=relative_motions,
        )
        if hp.velocity_weight > 0:
            steps = {offset: batch[keys.time_step_key(offset)] for offset in self.frame_offsets}
            velocity = velocity_loss(translations, batch[keys.SPEED], steps)
            terms["velocity"] = velocity.detach()
            loss = loss + hp.velocity_weight * velocity
        return loss, terms, outputs

    def source_transforms(
        self, batch: dict, target_features: list[Tensor] | None = None
    ) -> tuple[dict[str, Tensor], dict[int, tuple[Tensor, Tensor]]]:
        """T_source_target [B, 4, 4] of every source view, keyed by the source's image key.

        Temporal frames use the pose network (`monodepthkit.models.pose`: the pair in temporal
        order, the transform inverted for negative offsets); the stereo partner the fixed or the
        batch's baseline. The transforms use the pose network's raw translation; for a
        ``posecnn`` `view_synthesis_loss` rebuilds them per scale (``relative_motions``).

        Returns:
            ``(transforms, motions)``: transforms by image key (``"image_-1"``,
            ``"image_stereo"``, ...) and the pose network's raw ``(axis_angle [B, 3] radians,
            translation [B, 3])`` by frame offset.
        """
        transforms: dict[str, Tensor] = {}
        motions: dict[int, tuple[Tensor, Tensor]] = {}
        image = batch[keys.IMAGE]
        for offset in self.frame_offsets:
            key = keys.context_image_key(offset)
            context_features = None
            if target_features is not None:
                context_features = self.net.encode(batch[key])
            if offset < 0:
                pair = (batch[key], image, context_features, target_features)
            else:
                pair = (image, batch[key], target_features, context_features)
            axis_angle, translation = self.pose_net(*pair)
            transforms[key] = transformation_from_parameters(
                axis_angle, translation, invert=offset < 0
            )
            motions[offset] = (axis_angle, translation)
        if self.uses_stereo:
            transforms[keys.STEREO_IMAGE] = stereo_transform(
                batch[keys.STEREO_TRANSFORM], self.hparams.stereo_baseline
            )
        return transforms, motions

    # --- Lightning hooks -----------------------------------------------------------------

    def on_train_start(self) -> None:
        # Here, not in on_fit_start: a resumed run's optimiser state is restored in between,
        # in the layout it was saved in, and must follow the parameters' (match_state_layout).
        if self.set_training_memory_format(self.device):
            for optimizer in self.trainer.optimizers:
                match_state_layout(optimizer)

    def on_fit_start(self) -> None:
        if (
            self.uses_stereo
            and self.hparams.stereo_baseline is not None
            and getattr(self.net, "is_metric", False)
        ):
            rank_zero_warn(
                f"SelfSupervisedTask: the metric depth model '{self.hparams.depth_model}' warps "
                f"the stereo partner with the fixed baseline {self.hparams.stereo_baseline}, so "
                "it must relearn a depth of other units; set stereo_baseline: null to warp with "
                "the batch's calibrated T_stereo and keep its metres"
            )
        datamodule = getattr(self.trainer, "datamodule", None)
        augment = getattr(datamodule, "augment", None)
        if augment is not None and augment.color_jitter > 0 and not augment.keep_unjittered:
            rank_zero_warn(
                "SelfSupervisedTask: colour jitter is on but data.augment.keep_unjittered is "
                "false, so the photometric loss compares jittered images; Monodepth2 computes "
                "it on the un-jittered ones (set data.augment.keep_unjittered: true)"
            )

    def evaluation_step(self, batch: dict) -> tuple[Tensor | None, dict[str, Tensor], Tensor]:
        """The loss when the batch has the source views, and the depth times `depth_scale`."""
        if all(key in batch for key in self._required_keys()):
            loss, _, outputs = self.model_step(batch)
            return loss, {}, outputs[DEPTH] * self.depth_scale
        validate_batch(batch, values=False)
        return None, {}, self(batch[keys.IMAGE])[DEPTH]

    # --- batch checks --------------------------------------------------------------------

    def _required_keys(self) -> list[str]:
        required = [keys.IMAGE, keys.INTRINSICS]
        required += [keys.context_image_key(offset) for offset in self.frame_offsets]
        if self.uses_stereo:
            required += [keys.STEREO_IMAGE, keys.STEREO_TRANSFORM]
        if self.hparams.velocity_weight > 0:
            required += [keys.SPEED]
            required += [keys.time_step_key(offset) for offset in self.frame_offsets]
        return required

    def _check_batch(self, batch: dict) -> None:
        missing = [key for key in self._required_keys() if key not in batch]
        if missing:
            hints = []
            if any(key.startswith("image_") and key != keys.STEREO_IMAGE for key in missing):
                hints.append(f"set data.frame_offsets: {self.frame_offsets}")
            if keys.STEREO_IMAGE in missing or keys.STEREO_TRANSFORM in missing:
                hints.append("set data.stereo: true")
            if keys.SPEED in missing or any(key.startswith("dt_") for key in missing):
                hints.append(
                    "velocity supervision needs poses.txt and timestamps.txt in every sequence"
                )
            if keys.INTRINSICS in missing:
                hints.append("the dataset must provide intrinsics K")
            raise MdkError(
                f"SelfSupervisedTask (mode '{self.hparams.mode}'): batch lacks "
                f"{', '.join(missing)}; " + "; ".join(hints)
            )
        validate_batch(batch, required=self._required_keys(), values=False)


def stereo_transform(T_stereo: Tensor, baseline: float | None) -> Tensor:
    """T_partner_target [B, 4, 4] used to warp the stereo partner.

    Args:
        T_stereo: [B, 4, 4] the batch's T_stereo_target (metres).
        baseline: Monodepth2's fixed baseline: identity rotation and a translation of
            ``baseline`` along x with the sign of ``T_stereo``'s x translation (negative when the
            partner is to the right, i.e. for the left image; flips reverse it); None returns
            ``T_stereo`` itself.

    Returns:
        [B, 4, 4] transforms.
    """
    if baseline is None:
        return T_stereo
    sign = torch.where(T_stereo[:, 0, 3] < 0, -1.0, 1.0).to(T_stereo.dtype)
    transform = torch.eye(4, dtype=T_stereo.dtype, device=T_stereo.device).repeat(
        T_stereo.shape[0], 1, 1
    )
    transform[:, 0, 3] = sign * baseline
    return transform


def _unjittered(batch: dict, key: str) -> Tensor:
    """The un-jittered copy of an image when the batch has one, else the image itself."""
    return batch.get(keys.unjittered_key(key), batch[key])


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise MdkError(
            f"SelfSupervisedTask: {name} must be one of {', '.join(choices)}, got {value!r}"
        )
