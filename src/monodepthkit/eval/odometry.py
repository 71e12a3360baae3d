"""The KITTI odometry benchmark's files: the frames and ground-truth poses of a sequence.

Layout (colour images + the ground-truth poses archive)::

    ROOT/
      sequences/09/image_2/000000.png     left colour camera (.png or .jpg), frames 0..N-1
      poses/09.txt                        N lines of 12 numbers: camera-to-world [R | t], metres

A checkpoint's pose network is scored on them by `monodepthkit.inference.pose`.
"""

from __future__ import annotations

from pathlib import Path

from monodepthkit.errors import MdkError

ODOMETRY_LAYOUT = "ROOT/sequences/SS/image_2/NNNNNN.png and ROOT/poses/SS.txt"


def odometry_files(root: str | Path, sequence: str | int) -> tuple[list[Path], Path]:
    """The left colour images (in frame order) and the pose file of a KITTI odometry sequence.

    Args:
        root: KITTI odometry root (see the module docstring).
        sequence: sequence number, e.g. ``"09"``, ``9``.

    Returns:
        (image paths of frames 0..N-1, ``ROOT/poses/SS.txt``).

    Raises:
        MdkError: a missing folder or pose file, or frame numbers with gaps.
    """
    root = Path(root)
    try:
        name = f"{int(sequence):02d}"
    except ValueError:
        raise MdkError(f"--sequence: expected a number such as 09, got {sequence!r}") from None
    folder = root / "sequences" / name / "image_2"
    if not folder.is_dir():
        raise MdkError(f"{folder}: image folder not found; expected {ODOMETRY_LAYOUT}")
    images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    frames = [int(p.stem) for p in images if p.stem.isdigit()]
    if not images or frames != list(range(len(images))):
        raise MdkError(
            f"{folder}: expected frames 000000 .. {len(images) - 1:06d} without gaps, found "
            f"{len(images)} images; download the whole sequence"
        )
    poses = root / "poses" / f"{name}.txt"
    if not poses.is_file():
        raise MdkError(
            f"{poses}: ground-truth poses not found; unpack KITTI's data_odometry_poses.zip "
            f"into {root} ({ODOMETRY_LAYOUT})"
        )
    return images, poses
