"""Random scene descriptions: the driving street and the furnished rooms, with camera paths.

All lengths are in metres, in the y-down world frame of `monodepthkit.data.synthetic`; boxes
carry a material id (their textures are in `monodepthkit.data.synthetic.textures`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


def _camera_pose(yaw: float, pitch: float, roll: float, position: np.ndarray) -> np.ndarray:
    """Camera-to-world pose from heading angles (radians) and the centre (metres, world).

    Yaw turns the forward axis from +z towards +x (a right turn in the y-down world), positive
    pitch looks up, roll turns about the forward axis.
    """
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    R_yaw = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    R_pitch = np.array([[1.0, 0.0, 0.0], [0.0, cp, -sp], [0.0, sp, cp]])
    R_roll = np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]])
    pose = np.eye(4)
    pose[:3, :3] = R_yaw @ R_pitch @ R_roll
    pose[:3, 3] = position
    return pose


# ----------------------------------------------------------------------------- scene description

# Box materials; the ground plane and the room have their own texture functions.
FACADE, VEHICLE, POLE, SIGN, FOLIAGE, FURNITURE = range(6)
# Per-box material parameters: colour A (3), colour B (3), four pattern numbers, noise seed,
# variant.
_NUM_PARAMS = 12


@dataclass
class _BoxList:
    """Yaw-rotated boxes resting in the world; local x/z axes follow the box's yaw."""

    centers: list = field(default_factory=list)
    halves: list = field(default_factory=list)
    yaws: list = field(default_factory=list)
    materials: list = field(default_factory=list)
    params: list = field(default_factory=list)

    def add(
        self,
        center: np.ndarray,
        half: tuple[float, float, float],
        yaw: float,
        material: int,
        colour_a,
        colour_b=(0.0, 0.0, 0.0),
        pattern=(0.0, 0.0, 0.0, 0.0),
        noise_seed: float = 0.0,
        variant: int = 0,
    ) -> None:
        self.centers.append(np.asarray(center, dtype=np.float64))
        self.halves.append(half)
        self.yaws.append(yaw)
        self.materials.append(material)
        self.params.append([*colour_a, *colour_b, *pattern, noise_seed, variant])

    def arrays(self) -> dict[str, np.ndarray]:
        count = len(self.centers)
        return {
            "center": np.array(self.centers, dtype=np.float64).reshape(count, 3),
            "half": np.array(self.halves, dtype=np.float64).reshape(count, 3),
            "yaw": np.array(self.yaws, dtype=np.float64).reshape(count),
            "material": np.array(self.materials, dtype=np.int32).reshape(count),
            "params": np.array(self.params, dtype=np.float32).reshape(count, _NUM_PARAMS),
        }


@dataclass
class Scene:
    """Everything the renderer needs; all lengths in metres, world frame y-down."""

    boxes: dict[str, np.ndarray]
    light: np.ndarray  # [3] unit vector towards the light
    ambient: float
    diffuse: float
    road: dict | None = None  # driving: curved road on the ground plane y = 0
    room: dict | None = None  # indoor: room interior, bounds and surface styles
    sky: dict | None = None


# ----------------------------------------------------------------------------- driving scenes

LANE_WIDTH = 3.5
CURB = 5.6  # road + parking lane half width
SIDEWALK = 8.2  # building line


def build_driving(rng: np.random.Generator, num_frames: int, fps: float):
    """A curved street and a trajectory along it (right-hand traffic)."""
    frames = np.arange(num_frames, dtype=np.float64)
    mean_speed = rng.uniform(0.75, 1.05)  # metres per frame
    speed = mean_speed + rng.uniform(0.04, 0.12) * np.sin(
        2 * np.pi * frames / rng.uniform(40, 100) + rng.uniform(0, 2 * np.pi)
    )
    speed = np.clip(speed, 0.6, 1.2)
    arc = np.concatenate([[0.0], np.cumsum(speed[:-1])])
    length = float(arc[-1])
    # A constant curvature keeps the camera turning every frame; long sequences turn less so
    # the street never closes on itself.
    turn_per_frame = math.radians(rng.uniform(0.7, 1.5))
    radius = float(np.clip(mean_speed / turn_per_frame, max(30.0, length / (0.75 * np.pi)), 5e3))
    curvature = rng.choice([-1.0, 1.0]) / radius
    heading0 = rng.uniform(-np.pi, np.pi)
    centre = _right(heading0) / curvature  # centre of curvature (x, z); the start is the origin

    sway_amplitude = rng.uniform(0.08, 0.25)
    sway_length = rng.uniform(40.0, 80.0)
    sway_phase = rng.uniform(0, 2 * np.pi)
    lane = LANE_WIDTH / 2 + sway_amplitude * np.sin(2 * np.pi * arc / sway_length + sway_phase)
    lane_slope = (
        sway_amplitude
        * 2
        * np.pi
        / sway_length
        * np.cos(2 * np.pi * arc / sway_length + sway_phase)
    )
    heading = heading0 + curvature * arc
    yaw = heading + np.arctan(lane_slope)
    yaw += math.radians(0.3) * np.sin(2 * np.pi * frames / rng.uniform(15, 30) + rng.uniform(0, 6))
    pitch = math.radians(rng.uniform(-1.5, 0.5)) + math.radians(0.4) * np.sin(
        2 * np.pi * frames / rng.uniform(8, 20) + rng.uniform(0, 6)
    )
    roll = math.radians(0.4) * np.sin(2 * np.pi * frames / rng.uniform(10, 25) + rng.uniform(0, 6))
    camera_height = 1.65 + rng.uniform(-0.05, 0.05)
    bob = 0.01 * np.sin(2 * np.pi * frames / rng.uniform(5, 12) + rng.uniform(0, 6))

    def road_point(s, lateral):
        """World (x, z) of arc length s and lateral offset (metres, + = right of travel)."""
        psi = heading0 + curvature * s
        anchor = centre if np.ndim(s) == 0 else centre[:, None]
        return anchor + _right(psi) * (lateral - 1.0 / curvature), psi

    xz, _ = road_point(arc, lane)
    poses = [
        _camera_pose(
            yaw[i],
            pitch[i],
            roll[i],
            np.array([xz[0, i], -(camera_height + bob[i]), xz[1, i]]),
        )
        for i in range(num_frames)
    ]

    boxes = _BoxList()
    start = -35.0
    stop = min(length + 170.0, start + 0.9 * 2 * np.pi * radius)
    for side in (-1.0, 1.0):
        inner = side * curvature > 0  # the side facing the centre of curvature
        _street_buildings(rng, boxes, road_point, start, stop, side, inner, radius, back_row=False)
        _street_buildings(rng, boxes, road_point, start, stop, side, inner, radius, back_row=True)
        _street_furniture(rng, boxes, road_point, start, stop, side)
        _parked_vehicles(rng, boxes, road_point, start, stop, side)
    # Stopped traffic in the opposite lane, and in ours only beyond the end of the trajectory.
    _parked_vehicles(rng, boxes, road_point, start, stop, -LANE_WIDTH / 2)
    _parked_vehicles(rng, boxes, road_point, length + 12.0, stop, LANE_WIDTH / 2)

    elevation = math.radians(rng.uniform(25, 65))
    azimuth = rng.uniform(-np.pi, np.pi)
    light = np.array(
        [
            math.cos(elevation) * math.sin(azimuth),
            -math.sin(elevation),
            math.cos(elevation) * math.cos(azimuth),
        ]
    )
    road = {
        "centre": centre,
        "radius": radius,
        "curvature": curvature,
        "reference_angle": math.atan2(-centre[1], -centre[0]),  # angle of the origin (s = 0)
        "asphalt": _jitter(rng, (0.30, 0.30, 0.31), 0.04),
        "sidewalk": _jitter(rng, (0.60, 0.57, 0.52), 0.06),
        "verge": _jitter(rng, (0.30, 0.36, 0.20), 0.05),
        "tile": rng.uniform(0.3, 0.5),
        "dash": rng.uniform(2.0, 4.0),
        "dash_period": rng.uniform(8.0, 12.0),
        "noise_seed": rng.uniform(0, 100),
    }
    sky = {
        "horizon": _jitter(rng, (0.78, 0.84, 0.90), 0.04),
        "zenith": _jitter(rng, (0.32, 0.52, 0.85), 0.05),
        "cloud": rng.uniform(0.3, 0.8),
        "noise_seed": rng.uniform(0, 100),
    }
    scene = Scene(
        boxes=boxes.arrays(),
        light=light,
        ambient=rng.uniform(0.45, 0.6),
        diffuse=rng.uniform(0.45, 0.6),
        road=road,
        sky=sky,
    )
    return scene, poses


def _right(heading):
    """World (x, z) unit vector to the right of a heading (radians); [2] or [2, N]."""
    return np.array([np.cos(heading), -np.sin(heading)])


def _jitter(rng: np.random.Generator, colour, amount: float) -> tuple[float, float, float]:
    values = np.clip(np.asarray(colour) + rng.uniform(-amount, amount, 3), 0.02, 0.98)
    return tuple(float(v) for v in values)


_FACADE_COLOURS = (
    (0.78, 0.72, 0.62),
    (0.86, 0.83, 0.76),
    (0.60, 0.62, 0.65),
    (0.56, 0.30, 0.22),
    (0.64, 0.40, 0.28),
    (0.50, 0.50, 0.47),
    (0.72, 0.58, 0.46),
    (0.55, 0.62, 0.70),
    (0.80, 0.70, 0.52),
)
_CAR_COLOURS = (
    (0.75, 0.08, 0.06),
    (0.10, 0.20, 0.55),
    (0.85, 0.85, 0.85),
    (0.12, 0.12, 0.13),
    (0.55, 0.57, 0.60),
    (0.10, 0.40, 0.20),
    (0.85, 0.65, 0.10),
    (0.40, 0.25, 0.15),
)


def _street_buildings(rng, boxes, road_point, start, stop, side, inner, radius, back_row):
    """Facade boxes along one side of the street, with set-backs and gaps."""
    cursor = start + rng.uniform(0, 6)
    while cursor < stop:
        if back_row:
            length = rng.uniform(15, 35)
            setback = rng.uniform(18, 35)
            depth = rng.uniform(10, 25)
            height = rng.uniform(12, 35)
        else:
            length = rng.uniform(8, 26)
            setback = rng.uniform(0, 4) if rng.random() < 0.7 else rng.uniform(4, 9)
            depth = rng.uniform(8, 18)
            height = rng.uniform(5, 24)
        near = SIDEWALK + setback
        if inner:
            face_radius = radius - near
            if face_radius < 8:
                break
            # A straight facade on the inside of a curve bulges towards the road at its ends.
            length = min(length, math.sqrt(8 * face_radius * 0.8))
            depth = min(depth, face_radius - 4)
        if rng.random() < (0.1 if back_row else 0.22):
            cursor += rng.uniform(3, 14)  # a gap lets the back row and the sky through
            continue
        middle = cursor + length / 2
        point, heading = road_point(np.array(middle), side * (near + depth / 2))
        material = _facade_parameters(rng)
        boxes.add(
            (point[0], -height / 2, point[1]),
            (depth / 2, height / 2, length / 2),
            float(heading),
            FACADE,
            **material,
        )
        cursor += length + rng.uniform(0.0, 1.5)


def _facade_parameters(rng) -> dict:
    colour = _jitter(rng, _FACADE_COLOURS[rng.integers(len(_FACADE_COLOURS))], 0.05)
    glass = _jitter(rng, (0.14, 0.18, 0.24), 0.05)
    floor_height = rng.uniform(2.9, 3.6)
    window_width = rng.uniform(0.9, 1.6)
    spacing = window_width + rng.uniform(0.8, 2.0)
    window_height = rng.uniform(1.2, min(1.9, floor_height - 0.9))
    return {
        "colour_a": colour,
        "colour_b": glass,
        "pattern": (floor_height, window_width, spacing, window_height),
        "noise_seed": rng.uniform(0, 100),
        "variant": int(rng.integers(3)),  # 0 plaster, 1 brick, 2 concrete panels
    }


def _street_furniture(rng, boxes, road_point, start, stop, side):
    """Poles (some with signs) near the curb and trees on the sidewalk."""
    cursor = start + rng.uniform(0, 10)
    while cursor < stop:
        point, heading = road_point(np.array(cursor), side * (CURB + 0.35))
        height = rng.uniform(4.0, 8.0)
        grey = _jitter(rng, (0.50, 0.50, 0.52), 0.08)
        boxes.add(
            (point[0], -height / 2, point[1]),
            (0.09, height / 2, 0.09),
            float(heading),
            POLE,
            grey,
            noise_seed=rng.uniform(0, 100),
        )
        if rng.random() < 0.4:
            colour = ((0.75, 0.1, 0.1), (0.1, 0.25, 0.7), (0.85, 0.7, 0.1))[rng.integers(3)]
            size = rng.uniform(0.3, 0.45)
            sign_height = rng.uniform(2.2, min(3.0, height - 0.4))
            boxes.add(
                (point[0], -sign_height, point[1]),
                (size, size, 0.03),
                float(heading),
                SIGN,
                colour,
                (0.9, 0.9, 0.9),
                noise_seed=rng.uniform(0, 100),
            )
        cursor += rng.uniform(12, 30)
    cursor = start + rng.uniform(0, 15)
    while cursor < stop:
        if rng.random() < 0.5:
            point, heading = road_point(np.array(cursor), side * rng.uniform(6.8, 7.4))
            trunk = rng.uniform(2.5, 3.5)
            crown = rng.uniform(1.0, 1.5)
            boxes.add(
                (point[0], -trunk / 2, point[1]),
                (0.12, trunk / 2, 0.12),
                float(heading),
                POLE,
                _jitter(rng, (0.35, 0.25, 0.16), 0.05),
                noise_seed=rng.uniform(0, 100),
            )
            boxes.add(
                (point[0], -(trunk + crown), point[1]),
                (crown, crown, crown),
                float(heading) + rng.uniform(-0.5, 0.5),
                FOLIAGE,
                _jitter(rng, (0.22, 0.38, 0.14), 0.06),
                (0.10, 0.20, 0.06),
                noise_seed=rng.uniform(0, 100),
            )
        cursor += rng.uniform(8, 20)


def _parked_vehicles(rng, boxes, road_point, start, stop, lateral):
    """Static vehicles: a body box and a cabin box each.

    ``lateral`` is a side (+-1: the parking lanes) or a lane centre offset in metres.
    """
    parking = abs(lateral) == 1.0
    offset = lateral * (CURB - 1.1) if parking else lateral
    cursor = start + rng.uniform(0, 8)
    while cursor < stop:
        if rng.random() < (0.55 if parking else 0.3):
            length = rng.uniform(3.8, 4.9)
            width = rng.uniform(1.65, 1.9)
            body = rng.uniform(0.7, 0.9)
            cabin = rng.uniform(0.45, 0.6)
            clearance = 0.12
            middle = cursor + length / 2
            point, heading = road_point(np.array(middle), offset + rng.uniform(-0.15, 0.15))
            yaw = float(heading) + math.radians(rng.uniform(-3, 3))
            if lateral < 0 and not parking:
                yaw += np.pi  # oncoming
            colour = _jitter(rng, _CAR_COLOURS[rng.integers(len(_CAR_COLOURS))], 0.04)
            glass = _jitter(rng, (0.10, 0.12, 0.16), 0.03)
            seed = rng.uniform(0, 100)
            boxes.add(
                (point[0], -(clearance + body / 2), point[1]),
                (width / 2, body / 2, length / 2),
                yaw,
                VEHICLE,
                colour,
                glass,
                (length, body + clearance, 0.0, 0.0),
                seed,
                0,
            )
            cabin_length = length * rng.uniform(0.45, 0.6)
            shift = -0.08 * length
            cabin_point = point + shift * np.array([math.sin(yaw), math.cos(yaw)])
            boxes.add(
                (cabin_point[0], -(clearance + body + cabin / 2), cabin_point[1]),
                (width / 2 - 0.1, cabin / 2, cabin_length / 2),
                yaw,
                VEHICLE,
                colour,
                glass,
                (cabin_length, cabin, 0.0, 0.0),
                seed + 1,
                1,
            )
            cursor += length + rng.uniform(0.8, 3.0)
        else:
            cursor += rng.uniform(3, 12) if parking else rng.uniform(10, 40)


# ----------------------------------------------------------------------------- indoor scenes

_CLEARANCE = 0.75  # camera path to walls and furniture (horizontal), metres


def build_indoor(rng: np.random.Generator, num_frames: int, fps: float):
    """A furnished room and a smooth hand-held trajectory through its free space."""
    width = rng.uniform(3.0, 8.0)  # along x
    length = rng.uniform(3.0, 8.0)  # along z
    ceiling = rng.uniform(2.5, 3.2)
    free_x = max(width / 2 - _CLEARANCE - 0.15, 0.2)
    free_z = max(length / 2 - _CLEARANCE - 0.15, 0.2)
    # The look direction follows the camera around a loop, so the loop's angular rate sets the
    # rotation between frames; a roughly round loop keeps that rate steady.
    orbit_rate = rng.uniform(0.5, 0.9)  # rad/s
    radius_x = min(rng.uniform(0.6, 1.5), free_x)
    radius_z = min(radius_x * rng.uniform(0.75, 1.33), free_z)
    radius_x = min(radius_x, 1.5 * radius_z)
    mean_radius = (radius_x + radius_z) / 2
    wobble = rng.uniform(0.0, 0.08)
    wobble_phase = rng.uniform(0, 2 * np.pi)
    centre = np.array([width / 2, length / 2])

    def path(theta):
        scale = 1 + wobble * np.sin(2 * theta + wobble_phase)
        return (
            centre[:, None] + np.array([radius_x * np.cos(theta), radius_z * np.sin(theta)]) * scale
        )

    speed = float(np.clip(orbit_rate * mean_radius, 0.45, 1.0)) / fps  # metres per frame
    direction = rng.choice([-1.0, 1.0])
    # Arc-length parametrise the loop so the camera moves at a steady pace.
    theta_fine = np.linspace(0, 2 * np.pi, 4097)
    points = path(theta_fine)
    arc = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(points, axis=1)))])
    travelled = rng.uniform(0, arc[-1]) + direction * speed * np.arange(num_frames)
    theta = np.interp(np.mod(travelled, arc[-1]), arc, theta_fine)
    xz = path(theta)

    frames = np.arange(num_frames, dtype=np.float64)
    times = frames / fps
    # Look across the room at a target that swings around with the camera, and pan to and fro
    # around it, so consecutive frames differ by a clear rotation as well as a translation.
    gain = rng.uniform(1.5, 3.0)
    angle = rng.uniform(-0.5, 0.5)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    target = centre[:, None] + gain * (rotation @ (centre[:, None] - xz))
    yaw = np.unwrap(np.arctan2(target[0] - xz[0], target[1] - xz[1]))
    # Pan to and fro, never faster than half the loop's rate, so the rotation never stalls.
    period = rng.uniform(4, 7)
    sweep = 0.5 * (speed * fps / mean_radius) * period / (2 * np.pi)
    yaw += sweep * np.sin(2 * np.pi * times / period + rng.uniform(0, 6))
    pitch = rng.uniform(-0.3, 0.0) + 0.06 * np.sin(
        2 * np.pi * times / rng.uniform(2, 4) + rng.uniform(0, 6)
    )
    roll = 0.03 * np.sin(2 * np.pi * times / rng.uniform(3, 7) + rng.uniform(0, 6))
    height = rng.uniform(1.2, 1.6) + 0.02 * np.sin(
        2 * np.pi * times / rng.uniform(1.5, 3) + rng.uniform(0, 6)
    )
    poses = [
        _camera_pose(yaw[i], pitch[i], roll[i], np.array([xz[0, i], -height[i], xz[1, i]]))
        for i in range(num_frames)
    ]

    loop = path(np.linspace(0, 2 * np.pi, 256)).T  # [256, 2] keep-out samples
    boxes = _BoxList()
    _furnish(rng, boxes, width, length, loop)

    light = np.array([rng.uniform(-0.5, 0.5), -1.0, rng.uniform(-0.5, 0.5)])
    room = {
        "size": (width, ceiling, length),
        "walls": [
            _jitter(rng, _WALL_COLOURS[rng.integers(len(_WALL_COLOURS))], 0.04) for _ in range(4)
        ],
        "wall_variant": int(rng.integers(3)),  # 0 stucco, 1 stripes, 2 brick
        "stripe": rng.uniform(0.08, 0.3),
        "floor_variant": int(rng.integers(3)),  # 0 planks, 1 tiles, 2 carpet
        "floor": _jitter(rng, _FLOOR_COLOURS[rng.integers(len(_FLOOR_COLOURS))], 0.05),
        "plank": rng.uniform(0.12, 0.22),
        "tile": rng.uniform(0.3, 0.6),
        "ceiling": _jitter(rng, (0.86, 0.85, 0.82), 0.04),
        "noise_seed": rng.uniform(0, 100),
    }
    scene = Scene(
        boxes=boxes.arrays(),
        light=light / np.linalg.norm(light),
        ambient=rng.uniform(0.5, 0.62),
        diffuse=rng.uniform(0.35, 0.5),
        room=room,
    )
    return scene, poses


_WALL_COLOURS = (
    (0.85, 0.82, 0.74),
    (0.72, 0.80, 0.78),
    (0.80, 0.70, 0.62),
    (0.65, 0.70, 0.80),
    (0.88, 0.88, 0.86),
    (0.78, 0.74, 0.56),
)
_FLOOR_COLOURS = ((0.55, 0.38, 0.22), (0.68, 0.52, 0.34), (0.45, 0.45, 0.46), (0.62, 0.58, 0.5))
_FURNITURE_COLOURS = (
    (0.50, 0.33, 0.18),
    (0.70, 0.55, 0.35),
    (0.85, 0.85, 0.82),
    (0.25, 0.27, 0.32),
    (0.55, 0.15, 0.12),
    (0.20, 0.35, 0.50),
    (0.45, 0.50, 0.30),
)


def _furnish(rng, boxes, width, length, loop):
    """Place furniture against walls and in the room, clear of the camera's loop."""
    footprints: list[tuple[float, float, float, float]] = []

    def free(x0, x1, z0, z1):
        if x0 < 0.01 or z0 < 0.01 or x1 > width - 0.01 or z1 > length - 0.01:
            return False
        dx = np.maximum(np.maximum(x0 - loop[:, 0], loop[:, 0] - x1), 0)
        dz = np.maximum(np.maximum(z0 - loop[:, 1], loop[:, 1] - z1), 0)
        if np.min(np.hypot(dx, dz)) < _CLEARANCE:
            return False
        return all(
            x1 + 0.05 < a0 or a1 + 0.05 < x0 or z1 + 0.05 < b0 or b1 + 0.05 < z0
            for a0, a1, b0, b1 in footprints
        )

    def style():
        variant = int(rng.integers(3))  # 0 wood, 1 painted, 2 fabric
        colour = _jitter(rng, _FURNITURE_COLOURS[rng.integers(len(_FURNITURE_COLOURS))], 0.05)
        dark = tuple(0.6 * c for c in colour)
        pattern = (rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.6), 0.0, 0.0)
        return {
            "colour_a": colour,
            "colour_b": dark,
            "pattern": pattern,
            "noise_seed": rng.uniform(0, 100),
            "variant": variant,
        }

    def add_block(x0, x1, z0, z1, bottom, top, material_style):
        boxes.add(
            ((x0 + x1) / 2, -(bottom + top) / 2, (z0 + z1) / 2),
            ((x1 - x0) / 2, (top - bottom) / 2, (z1 - z0) / 2),
            0.0,
            FURNITURE,
            **material_style,
        )

    target = int(rng.integers(4, 10))
    for _ in range(60):
        if len(footprints) >= target:
            break
        kind = rng.choice(["wall_unit", "wall_unit", "bed", "table", "crate"])
        if kind in ("wall_unit", "bed"):
            if kind == "wall_unit":
                along, across, tall = (
                    rng.uniform(0.6, 2.2),
                    rng.uniform(0.35, 0.65),
                    rng.uniform(0.7, 2.3),
                )
            else:
                along, across, tall = (
                    rng.uniform(1.4, 2.2),
                    rng.uniform(0.8, 2.0),
                    rng.uniform(0.4, 0.55),
                )
            wall = int(rng.integers(4))
            wall_length = width if wall < 2 else length
            if along > wall_length - 0.1:
                continue
            position = rng.uniform(0.05, wall_length - along - 0.05)
            if wall < 2:  # along x, against z = 0 or z = length
                x0, x1 = position, position + along
                z0, z1 = (
                    (0.02, 0.02 + across) if wall == 0 else (length - 0.02 - across, length - 0.02)
                )
            else:
                z0, z1 = position, position + along
                x0, x1 = (
                    (0.02, 0.02 + across) if wall == 2 else (width - 0.02 - across, width - 0.02)
                )
            if not free(x0, x1, z0, z1):
                continue
            footprints.append((x0, x1, z0, z1))
            material = style()
            add_block(x0, x1, z0, z1, 0.0, tall, material)
            if kind == "bed":  # headboard / backrest against the wall
                back = 0.12
                if wall == 0:
                    add_block(x0, x1, z0, z0 + back, tall, tall + 0.5, material)
                elif wall == 1:
                    add_block(x0, x1, z1 - back, z1, tall, tall + 0.5, material)
                elif wall == 2:
                    add_block(x0, x0 + back, z0, z1, tall, tall + 0.5, material)
                else:
                    add_block(x1 - back, x1, z0, z1, tall, tall + 0.5, material)
        else:
            if kind == "table":
                size_x, size_z = rng.uniform(0.8, 1.6), rng.uniform(0.6, 1.0)
            else:
                size_x = size_z = rng.uniform(0.3, 0.7)
            x0 = rng.uniform(0.05, max(width - size_x - 0.05, 0.06))
            z0 = rng.uniform(0.05, max(length - size_z - 0.05, 0.06))
            x1, z1 = x0 + size_x, z0 + size_z
            if not free(x0, x1, z0, z1):
                continue
            footprints.append((x0, x1, z0, z1))
            material = style()
            if kind == "crate":
                add_block(x0, x1, z0, z1, 0.0, size_x * rng.uniform(0.7, 1.2), material)
                continue
            top = rng.uniform(0.7, 0.78)
            add_block(x0, x1, z0, z1, top - 0.04, top, material)
            leg = 0.05
            for lx in (x0 + 0.03, x1 - 0.03 - leg):
                for lz in (z0 + 0.03, z1 - 0.03 - leg):
                    add_block(lx, lx + leg, lz, lz + leg, 0.0, top - 0.04, material)
