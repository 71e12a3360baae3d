"""Self-supervised training from video and/or stereo (report 5, Monodepth2; velocity of PackNet).

One training step, for a target image and its source views (temporal context frames and/or the
stereo partner):

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

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_warn
from torch import Tensor

from monodepthkit.data import batch as keys
from monodepthkit.data.batch import validate_batch
from monodepthkit.data.transforms import scale_intrinsics
from monodepthkit.errors import MdkError
from monodepthkit.eval import get_protocol
from monodepthkit.geometry.disparity import mean_inverse_depth
from monodepthkit.geometry.pose import transformation_from_parameters
from monodepthkit.geometry.warp import warp_to_target
from monodepthkit.losses.photometric import (
    edge_aware_smoothness,
    min_reprojection,
    photometric_error,
)
from monodepthkit.models import create_model
from monodepthkit.models.monodepth2 import scale_key
from monodepthkit.models.pose import create_pose_network
from monodepthkit.tasks.loading import TASK_KEY, task_class_path
from monodepthkit.tasks.metrics import log_depth_metrics
from monodepthkit.tasks.optim import adam_with_step_decay

MODES = ("mono", "stereo", "mono+stereo")
REPROJECTION_REDUCTIONS = ("min", "mean")
EVAL_ALIGNMENTS = ("none", "median")
KITTI_STEREO_BASELINE = 0.54
"""Distance between KITTI's colour cameras in metres: a model trained with Monodepth2's fixed
0.1 baseline predicts depth 0.54 / 0.1 = 5.4 times too small."""


class SelfSupervisedTask(L.LightningModule):
    """Depth network + pose network trained by view synthesis (Monodepth2).

    Args:
        depth_model: registry name of a depth network of the self-supervised contract
            (``monodepth2``, ``packnet``): training mode gives ``disp_s`` / ``depth_s`` per scale.
        depth_model_kwargs: its options, e.g. ``{"num_layers": 18, "pretrained": true}``.
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
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        _check_choice("mode", mode, MODES)
        _check_choice("reprojection", reprojection, REPROJECTION_REDUCTIONS)
        if eval_align is not None:
            _check_choice("eval_align", eval_align, EVAL_ALIGNMENTS)
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

        self.depth_net = create_model(depth_model, **(depth_model_kwargs or {}))
        self.num_scales = int(getattr(self.depth_net, "num_scales", 1))
        self.pose_net = None
        if self.uses_frames:
            pose_kwargs = dict(pose_model_kwargs or {})
            if pose_model == "shared":
                pose_kwargs.setdefault(
                    "depth_encoder_channels", list(self.depth_net.encoder_channels)
                )
            self.pose_net = create_pose_network(pose_model, **pose_kwargs)
        if depth_scale is None:
            fixed = self.uses_stereo and stereo_baseline is not None
            depth_scale = KITTI_STEREO_BASELINE / stereo_baseline if fixed else 1.0
        if not depth_scale > 0:
            raise MdkError(f"SelfSupervisedTask: depth_scale must be > 0, got {depth_scale}")
        self.depth_scale = float(depth_scale)
        self.eval_align = eval_align or ("none" if self.is_metric else "median")
        self.protocol = get_protocol(eval_protocol, eval_min_depth, eval_max_depth)

    @property
    def is_metric(self) -> bool:
        """Whether the depth is metric: stereo or velocity supervision fixes the scale."""
        return self.uses_stereo or self.hparams.velocity_weight > 0

    def forward(self, image: Tensor) -> dict[str, Tensor]:
        """Predict depth at the input size.

        Args:
            image: [B, 3, H, W] in [0, 1].

        Returns:
            ``{"depth": [B, 1, H, W], "disp": [B, 1, H, W]}``: depth times `depth_scale`
            (metres for a metric model, relative otherwise) and the network's disparity.
        """
        outputs = self.depth_net(image)
        return {"depth": outputs["depth"] * self.depth_scale, "disp": outputs["disp"]}

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
            features = self.depth_net.encode(image)
            outputs = self.depth_net.decode(features)
        else:
            outputs = self.depth_net(image)
        transforms, motions = self.source_transforms(batch, features)
        sources = {key: _unjittered(batch, key) for key in transforms}
        depth_relative = None
        translations = {offset: translation for offset, (_, translation) in motions.items()}
        if getattr(self.pose_net, "translation_times_mean_inverse_depth", False):
            depth_relative = {
                keys.context_image_key(offset): (axis_angle, translation, offset < 0)
                for offset, (axis_angle, translation) in motions.items()
            }
            # The velocity loss constrains the translation the scale-0 warp uses.
            scale0 = mean_inverse_depth(outputs[scale_key("depth", 0)])
            translations = {offset: t * scale0 for offset, t in translations.items()}
        loss, terms = self.view_synthesis_loss(
            outputs,
            _unjittered(batch, keys.IMAGE),
            sources,
            transforms,
            batch[keys.INTRINSICS],
            depth_relative,
        )
        if self.hparams.velocity_weight > 0:
            steps = {offset: batch[keys.time_step_key(offset)] for offset in self.frame_offsets}
            velocity = velocity_loss(translations, batch[keys.SPEED], steps)
            terms["velocity"] = velocity.detach()
            loss = loss + self.hparams.velocity_weight * velocity
        return loss, terms, outputs

    def source_transforms(
        self, batch: dict, target_features: list[Tensor] | None = None
    ) -> tuple[dict[str, Tensor], dict[int, tuple[Tensor, Tensor]]]:
        """T_source_target [B, 4, 4] of every source view, keyed by the source's image key.

        Temporal frames use the pose network (contract C2: pairs in temporal order, inverted
        for negative offsets); the stereo partner the fixed or the batch's baseline. The
        transforms use the pose network's raw translation; for a ``posecnn``
        `view_synthesis_loss` rebuilds them per scale (``depth_relative``).

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
                context_features = self.depth_net.encode(batch[key])
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

    def view_synthesis_loss(
        self,
        outputs: dict[str, Tensor],
        target: Tensor,
        sources: dict[str, Tensor],
        transforms: dict[str, Tensor],
        K: Tensor,
        depth_relative: dict[str, tuple[Tensor, Tensor, bool]] | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Monodepth2's multi-scale photometric + smoothness loss.

        Args:
            outputs: the depth network's outputs, ``depth_s`` / ``disp_s`` per scale.
            target: [B, 3, H, W] un-jittered target image in [0, 1].
            sources: [B, 3, H, W] un-jittered source views by key.
            transforms: [B, 4, 4] T_source_target by the same keys.
            K: [B, 3, 3] intrinsics in pixels of the H x W images.
            depth_relative: PoseCNN motions ``(axis_angle [B, 3], translation [B, 3], invert)``
                by source key whose translation is relative to the scene depth: per scale, the
                transform of such a key is ``transformation_from_parameters(axis_angle,
                translation * mean_inverse_depth(depth), invert)`` with that scale's depth as
                warped (upsampled to H x W with full-resolution multi-scale; Monodepth2), in
                place of ``transforms[key]``. None: the transforms as given.

        Returns:
            ``(loss, terms)``: the mean over the computed scales of photometric + weighted
            smoothness, and the unweighted means ``photometric``, ``smoothness`` and the
            scale-0 ``automask`` fraction.
        """
        hp = self.hparams
        height, width = target.shape[-2:]
        scales = [s for s in range(self.num_scales) if scale_key("depth", s) in outputs]
        identity_by_size: dict[tuple[int, ...], Tensor] = {}
        total, photometric_sum, smoothness_sum = 0.0, 0.0, 0.0
        automask_fraction = None
        for scale in scales:
            depth = outputs[scale_key("depth", scale)]
            disp = outputs[scale_key("disp", scale)]
            if hp.full_res_multiscale or scale == 0:
                if depth.shape[-2:] != (height, width):
                    # Upsample inverse depth (Monodepth2 upsamples its disparity, an affine
                    # function of it), then invert.
                    inverse = F.interpolate(
                        1.0 / depth, (height, width), mode="bilinear", align_corners=False
                    )
                    depth = 1.0 / inverse
                scale_target, scale_sources, scale_K = target, sources, K
            else:
                size = tuple(depth.shape[-2:])
                scale_target = _downsample(target, size)
                scale_sources = {key: _downsample(value, size) for key, value in sources.items()}
                scale_K = scale_intrinsics(K, (height, width), size)
            scale_transforms = dict(transforms)
            if depth_relative:
                inverse_mean = mean_inverse_depth(depth)
                for key, (axis_angle, translation, invert) in depth_relative.items():
                    scale_transforms[key] = transformation_from_parameters(
                        axis_angle, translation * inverse_mean, invert=invert
                    )
            reprojection = torch.cat(
                [
                    photometric_error(
                        warp_to_target(scale_sources[key], depth, T, scale_K)[0],
                        scale_target,
                        hp.ssim_weight,
                    )
                    for key, T in scale_transforms.items()
                ],
                dim=1,
            )
            identity = None
            if hp.automask:
                # At full resolution the identity errors are the same for every scale.
                size = tuple(scale_target.shape[-2:])
                if size not in identity_by_size:
                    identity_by_size[size] = self._identity_errors(scale_target, scale_sources)
                identity = identity_by_size[size]
            per_pixel, automask = min_reprojection(reprojection, identity, hp.reprojection)
            photometric = per_pixel.mean()
            smoothness = edge_aware_smoothness(disp, _downsample(target, tuple(disp.shape[-2:])))
            total = total + photometric + hp.smoothness_weight * smoothness / 2**scale
            photometric_sum = photometric_sum + photometric.detach()
            smoothness_sum = smoothness_sum + smoothness.detach()
            if automask_fraction is None:
                automask_fraction = automask.float().mean()
        count = len(scales)
        terms = {
            "photometric": photometric_sum / count,
            "smoothness": smoothness_sum / count,
            "automask": automask_fraction,
        }
        return total / count, terms

    def _identity_errors(self, target: Tensor, sources: dict[str, Tensor]) -> Tensor:
        """[B, N, H, W] photometric errors of the unwarped source views (auto-masking)."""
        alpha = self.hparams.ssim_weight
        return torch.cat([photometric_error(src, target, alpha) for src in sources.values()], 1)

    # --- Lightning hooks -----------------------------------------------------------------

    def on_fit_start(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None)
        augment = getattr(datamodule, "augment", None)
        if augment is not None and augment.color_jitter > 0 and not augment.keep_unjittered:
            rank_zero_warn(
                "SelfSupervisedTask: colour jitter is on but data.augment.keep_unjittered is "
                "false, so the photometric loss compares jittered images; Monodepth2 computes "
                "it on the un-jittered ones (set data.augment.keep_unjittered: true)"
            )

    def training_step(self, batch: dict, batch_idx: int) -> Tensor:
        loss, terms, _ = self.model_step(batch)
        size = batch[keys.IMAGE].shape[0]
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        self.log_dict({f"train/{name}": value for name, value in terms.items()}, batch_size=size)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> dict[str, Tensor]:
        return self(batch[keys.IMAGE])

    def _evaluate(self, batch: dict, stage: str) -> None:
        size = batch[keys.IMAGE].shape[0]
        if all(key in batch for key in self._required_keys()):
            loss, _, outputs = self.model_step(batch)
            self.log(f"{stage}/loss", loss, prog_bar=True, batch_size=size, sync_dist=True)
            depth = outputs["depth"] * self.depth_scale
        else:
            validate_batch(batch)
            depth = self(batch[keys.IMAGE])["depth"]
        if keys.DEPTH in batch:
            log_depth_metrics(
                self, stage, depth, batch[keys.DEPTH], self.protocol, align=self.eval_align
            )

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint[TASK_KEY] = task_class_path(self)

    def configure_optimizers(self):
        hp = self.hparams
        return adam_with_step_decay(
            self.parameters(), hp.lr, hp.weight_decay, hp.lr_milestones, hp.lr_gamma
        )

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
        validate_batch(batch, required=self._required_keys())


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


def velocity_loss(
    translations: dict[int, Tensor], speed: Tensor, time_steps: dict[int, Tensor]
) -> Tensor:
    """PackNet's velocity supervision: predicted translation norms vs distance travelled.

    ``mean over offsets f and samples of | ||t_f|| - |speed| * |dt_f| |``.

    Args:
        translations: [B, 3] predicted translation per frame offset, in the depth's units: the
            pose network's own, or for PoseCNN the one the scale-0 warp uses (times the mean
            inverse depth).
        speed: [B] camera speed at the target frame, m/s.
        time_steps: [B] time of the frame at each offset minus the target's, seconds.

    Returns:
        Scalar loss in metres.
    """
    errors = [
        (translation.norm(dim=1) - speed.abs() * time_steps[offset].abs()).abs().mean()
        for offset, translation in translations.items()
    ]
    return torch.stack(errors).mean()


def _unjittered(batch: dict, key: str) -> Tensor:
    """The un-jittered copy of an image when the batch has one, else the image itself."""
    return batch.get(keys.unjittered_key(key), batch[key])


def _downsample(image: Tensor, size: Sequence[int]) -> Tensor:
    """Resize [B, C, H, W] to ``size`` (antialiased bilinear; unchanged when equal)."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    return F.interpolate(image, tuple(size), mode="bilinear", align_corners=False, antialias=True)


def _check_choice(name: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise MdkError(
            f"SelfSupervisedTask: {name} must be one of {', '.join(choices)}, got {value!r}"
        )
