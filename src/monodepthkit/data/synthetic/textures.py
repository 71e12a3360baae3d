"""Procedural textures: albedo as a function of the surface point, with footprint filtering."""

from __future__ import annotations

import numpy as np

from monodepthkit.data.synthetic.scenes import (
    CURB,
    FACADE,
    FOLIAGE,
    FURNITURE,
    LANE_WIDTH,
    POLE,
    SIDEWALK,
    SIGN,
    VEHICLE,
)

# A fixed lattice of random values shared by all value noise (periodic every 256 cells).
_LATTICE = np.random.default_rng(20240917).random((256, 256), dtype=np.float32)
_LATTICE_FLAT = _LATTICE.ravel()


def _value_noise(x, y):
    """Smooth value noise with unit cells, in [0, 1]; x, y float32 arrays of one shape."""
    x0 = np.floor(x)
    y0 = np.floor(y)
    fx = x - x0
    fy = y - y0
    ix = x0.astype(np.int32) & 255
    row = (y0.astype(np.int32) & 255) << 8
    next_ix = (ix + 1) & 255
    next_row = (row + 256) & 0xFFFF
    sx = fx * fx * (3 - 2 * fx)
    sy = fy * fy * (3 - 2 * fy)
    v00 = _LATTICE_FLAT.take(row | ix)
    v10 = _LATTICE_FLAT.take(row | next_ix)
    v01 = _LATTICE_FLAT.take(next_row | ix)
    v11 = _LATTICE_FLAT.take(next_row | next_ix)
    top = v00 + (v10 - v00) * sx
    bottom = v01 + (v11 - v01) * sx
    return top + (bottom - top) * sy


def _cell_random(ix, iy, seed: float = 0.0):
    """One random value in [0, 1) per integer cell (ix, iy float arrays of whole numbers)."""
    offset = int(seed * 97) & 255
    return _LATTICE[(iy.astype(np.int32) + offset) & 255, (ix.astype(np.int32) * 7 + offset) & 255]


def _detail(footprint, size: float):
    """Visibility of a feature of ``size`` metres: 1 while pixels resolve it, fading to 0."""
    return np.clip(1.5 - 1.5 * footprint / size, 0.0, 1.0)


def _fbm(x, y, footprint, cells, seed: float):
    """Sum of value-noise octaves (cell sizes in metres), each faded by the footprint.

    Returns zero-mean detail in about [-0.5, 0.5].
    """
    total = np.zeros_like(x)
    weight = 1.0 / len(cells)
    for octave, cell in enumerate(cells):
        shift = seed * 3.7 + octave * 41.3
        noise = _value_noise(x / cell + shift, y / cell - 0.61 * shift)
        total += (noise - 0.5) * (weight * _detail(footprint, cell))
    return total


def _pulse(x, period: float, width: float, footprint):
    """Box-filtered coverage of stripes [k period, k period + width), in [0, 1].

    Integrating the stripe indicator over the pixel footprint anti-aliases exactly for a box
    filter: far away the value tends to the mean coverage ``width / period``.
    """
    u = x / period
    w = width / period
    half = np.maximum(footprint / period, 0.02) * 0.5
    a = u - half
    b = u + half
    fa = np.floor(a)
    fb = np.floor(b)
    covered = (fb - fa) * w + np.minimum(b - fb, w) - np.minimum(a - fa, w)
    return np.clip(covered / (2 * half), 0.0, 1.0)


def _band(x, low: float, high, footprint):
    """Box-filtered coverage of low <= x < high, in [0, 1]."""
    half = np.maximum(footprint, 1e-4) * 0.5
    return np.clip((np.minimum(x + half, high) - np.maximum(x - half, low)) / (2 * half), 0.0, 1.0)


def grime(x, y, footprint):
    """Additive grey dirt at several scales ([n, 1]), so dark and plain surfaces carry texture
    that photometric matching can lock on to."""
    return (0.35 * _fbm(x, y, footprint, (0.4, 0.12, 0.04, 0.012), 17.0))[:, None]


def _mix(base, other, amount):
    """Blend [n, 3] colours by a per-pixel amount in [0, 1]."""
    return base + (other - base) * amount[:, None]


def _colour(rgb) -> np.ndarray:
    return np.asarray(rgb, dtype=np.float32)[None, :]


def sky_colour(sky: dict | None, d):
    """Sky from the ray direction only: a gradient with soft clouds ([3, n] rays -> [n, 3])."""
    if sky is None:
        return np.zeros((d.shape[1], 3), np.float32)
    norm = np.linalg.norm(d, axis=0)
    elevation = np.clip(-d[1] / norm, 0.0, 1.0)
    colour = _mix(_colour(sky["horizon"]), _colour(sky["zenith"]), np.minimum(elevation * 2.5, 1.0))
    lift = np.maximum(-d[1], 0.02)
    x = d[0] / lift
    z = d[2] / lift
    zero = np.zeros_like(x)
    cloud = _fbm(x, z, zero, (1.5, 0.5, 0.2), sky["noise_seed"]) * 2 + 0.5
    cloud = np.clip((cloud - (1 - sky["cloud"])) * 2.5, 0.0, 1.0) * np.minimum(elevation * 8, 1.0)
    return _mix(colour, _colour((0.95, 0.95, 0.96)), cloud * 0.8)


def road_albedo(road: dict, point, footprint):
    """Asphalt with lane markings, curb, sidewalk tiles and verge on the ground plane."""
    curvature = road["curvature"]
    rx = point[0] - np.float32(road["centre"][0])
    rz = point[2] - np.float32(road["centre"][1])
    distance = np.sqrt(rx * rx + rz * rz)
    lateral = np.float32(np.sign(curvature)) * (np.float32(road["radius"]) - distance)
    turned = np.arctan2(rz, rx) - np.float32(road["reference_angle"])
    turned = (turned + np.float32(np.pi)) % np.float32(2 * np.pi) - np.float32(np.pi)
    along = -turned / np.float32(curvature)
    side = np.abs(lateral)
    f = footprint
    seed = road["noise_seed"]
    x, z = point[0], point[2]

    grain = _fbm(x, z, f, (6.0, 2.0, 0.6, 0.2, 0.06), seed)
    patches = np.clip((_value_noise(x / 5.0 + seed, z / 5.0) - 0.7) * 8, 0, 1) * _detail(f, 1.0)
    asphalt = _colour(road["asphalt"]) * (1 + 1.5 * grain - 0.25 * patches)[:, None]
    parking = _band(side, LANE_WIDTH, CURB, f)
    asphalt = asphalt * (1 - 0.12 * parking)[:, None]
    marks = _band(lateral, -0.07, 0.07, f) * _pulse(along, road["dash_period"], road["dash"], f)
    marks += _band(side, LANE_WIDTH - 0.15, LANE_WIDTH - 0.03, f)
    marks += parking * _pulse(along, 5.5, 0.12, f) * _band(side, LANE_WIDTH, CURB - 0.4, f)
    colour = _mix(asphalt, _colour((0.86, 0.86, 0.82)), np.minimum(marks, 1.0) * 0.9)

    tile = road["tile"]
    joints = 1 - (1 - _pulse(along, tile, 0.02, f)) * (1 - _pulse(side, tile, 0.02, f))
    tone = (_cell_random(np.floor(along / tile), np.floor(side / tile), seed) - 0.5) * _detail(
        f, tile
    )
    pavement = (
        _colour(road["sidewalk"])
        * (1 + 0.25 * tone + 0.6 * _fbm(x, z, f, (0.6, 0.1, 0.03), seed + 1))[:, None]
    )
    pavement = pavement * (1 - 0.35 * joints)[:, None]
    curb = _colour((0.72, 0.72, 0.70)) * (1 + 0.5 * _fbm(x, z, f, (0.3, 0.05), seed + 2))[:, None]
    verge = (
        _colour(road["verge"])
        * (1 + 1.2 * _fbm(x, z, f, (2.0, 0.5, 0.12, 0.04), seed + 3))[:, None]
    )

    colour = _mix(colour, curb, _band(side, CURB, CURB + 0.2, f))
    colour = _mix(colour, pavement, _band(side, CURB + 0.2, SIDEWALK, f))
    colour = _mix(colour, verge, _band(side, SIDEWALK, np.inf, f))
    return colour


def _facade_albedo(params, across, up, side, face_length, face_id, f):
    wall = params[:, 0:3]
    glass = params[:, 3:6]
    floor_height, window_width, spacing, window_height = (params[:, i] for i in range(6, 10))
    seed = params[:, 10] + 7.1 * face_id
    variant = params[:, 11]
    x = across + seed * 13.0
    noise = _fbm(x, up, f, (4.0, 1.0, 0.25, 0.06), 0.0)
    colour = wall * (1 + 0.6 * noise)[:, None]
    brick = variant == 1
    if brick.any():
        row = np.floor(up / 0.075)
        shifted = across + 0.11 * (row % 2)
        mortar = 1 - (1 - _pulse(up, 0.075, 0.012, f)) * (1 - _pulse(shifted, 0.22, 0.012, f))
        tone = (_cell_random(np.floor(shifted / 0.22), row, 3.0) - 0.5) * _detail(f, 0.075)
        brick_colour = wall * (1 + 0.3 * tone)[:, None]
        brick_colour = _mix(brick_colour, _colour((0.78, 0.76, 0.72)), mortar * 0.8)
        colour = np.where(brick[:, None], brick_colour * (1 + 0.4 * noise)[:, None], colour)
    panels = variant == 2
    if panels.any():
        joints = 1 - (1 - _pulse(up, 1.5, 0.03, f)) * (1 - _pulse(across, 2.4, 0.03, f))
        colour = np.where(panels[:, None], colour * (1 - 0.4 * joints)[:, None], colour)
    # Windows: a grid per floor, centred on the face, none on the roof.
    count = np.maximum(np.floor((face_length - 0.8) / spacing), 0)
    start = (face_length - count * spacing) / 2 + (spacing - window_width) / 2
    in_span = _band(across, start - 0.05, start + count * spacing - 0.05, f)
    sill = 0.9
    columns = (across - start) / spacing
    rows = (up - sill) / floor_height
    frame = 0.08
    in_frame = _pulse((columns * spacing) + frame, spacing, window_width + 2 * frame, f) * _pulse(
        rows * floor_height + frame, floor_height, window_height + 2 * frame, f
    )
    in_glass = _pulse(columns * spacing, spacing, window_width, f) * _pulse(
        rows * floor_height, floor_height, window_height, f
    )
    in_frame = in_frame * in_span * side
    in_glass = np.minimum(in_glass * in_span * side, in_frame)
    pane = glass * (1 + 0.8 * _fbm(x, up, f, (0.7, 0.2), 5.0))[:, None]
    colour = _mix(colour, _colour((0.85, 0.84, 0.80)), in_frame - in_glass)
    colour = colour * (1 - in_glass)[:, None] + pane * in_glass[:, None]
    roof = _colour((0.42, 0.41, 0.40)) * (1 + 1.0 * _fbm(x, up, f, (2.0, 0.4, 0.08), 9.0))[:, None]
    return np.where(side[:, None], colour, roof)


def _vehicle_albedo(params, across, up, side, face_length, face_id, f):
    body = params[:, 0:3]
    glass = params[:, 3:6]
    length = params[:, 6]
    seed = params[:, 10] + 7.1 * face_id
    cabin = params[:, 11] == 1
    long_side = side & (np.abs(face_length - length) < 1e-3)
    colour = body * (1 + 0.25 * _fbm(across + seed * 11.0, up, f, (0.8, 0.2, 0.05), 2.0))[:, None]
    doors = _pulse(across - 0.3, 1.1, 0.025, f) * long_side * ~cabin
    colour = colour * (1 - 0.6 * doors)[:, None]
    # Wheels on the long sides; windows on the cabin sides (pillars left at the corners).
    wheel = np.zeros_like(across)
    for centre in (0.8, -0.8):
        position = np.where(centre > 0, centre, length + centre)
        distance = np.hypot(across - position, up - 0.34)
        wheel = np.maximum(wheel, np.clip((0.34 - distance) / np.maximum(f, 1e-3) + 0.5, 0, 1))
    wheel = wheel * long_side * ~cabin
    rim = (
        np.clip(
            (0.16 - np.hypot(across - np.where(across < length / 2, 0.8, length - 0.8), up - 0.34))
            / np.maximum(f, 1e-3)
            + 0.5,
            0,
            1,
        )
        * wheel
    )
    colour = _mix(colour, _colour((0.06, 0.06, 0.06)), wheel)
    colour = _mix(colour, _colour((0.6, 0.6, 0.62)), rim)
    window = _band(across, 0.12, face_length - 0.12, f) * _band(up, 0.08, params[:, 7] - 0.06, f)
    window = window * side * cabin
    pane = glass * (1 + 0.6 * _fbm(across + seed, up, f, (0.5, 0.15), 4.0))[:, None]
    colour = _mix(colour, pane, window)
    lights = _band(up, 0.45, 0.62, f) * (side & ~long_side & ~cabin)
    lights = lights * (
        _band(across, 0.1, 0.35, f) + _band(across, face_length - 0.35, face_length - 0.1, f)
    )
    return _mix(colour, _colour((0.95, 0.9, 0.7)), lights)


def _pole_albedo(params, across, up, side, face_length, face_id, f):
    noise = _fbm(across + params[:, 10] * 5.0 + face_id, up, f, (0.6, 0.15, 0.04), 6.0)
    bands = _pulse(up, 1.2, 0.08, f)
    return params[:, 0:3] * (1 + 0.6 * noise - 0.3 * bands)[:, None]


def _sign_albedo(params, across, up, side, face_length, face_id, f):
    size = face_length
    border = 1 - _band(across, 0.06, size - 0.06, f) * _band(up, 0.06, size - 0.06, f)
    symbol = _band(across, size * 0.35, size * 0.65, f) * _band(up, size * 0.2, size * 0.8, f)
    colour = _mix(params[:, 0:3], params[:, 3:6], np.clip(border + symbol, 0, 1))
    back = _colour((0.55, 0.55, 0.57)) * (1 + 0.3 * _fbm(across, up, f, (0.1, 0.03), 1.0))[:, None]
    front = (face_id == 5) | (face_id == 4)
    return np.where(front[:, None], colour, back)


def _foliage_albedo(params, across, up, side, face_length, face_id, f):
    seed = params[:, 10] + 7.1 * face_id
    noise = _fbm(across + seed * 9.0, up, f, (0.6, 0.2, 0.07, 0.025), 8.0)
    leaves = np.clip(noise * 3 + 0.5, 0, 1)
    return _mix(params[:, 3:6], params[:, 0:3], leaves) * (1 + 0.4 * noise)[:, None]


def _furniture_albedo(params, across, up, side, face_length, face_id, f):
    colour_a = params[:, 0:3]
    colour_b = params[:, 3:6]
    grain_length, panel, variant = params[:, 6], params[:, 7], params[:, 11]
    seed = params[:, 10] + 7.1 * face_id
    x = across + seed * 7.0
    # Wood: long streaks along ``across`` plus fine rings.
    streaks = _fbm(x / (8 * grain_length), up, f, (0.04, 0.012), 1.0)
    rings = _pulse(up + 0.3 * _value_noise(x * 2.0, up * 2.0), 0.012, 0.004, f)
    wood = _mix(colour_a, colour_b, np.clip(0.5 + 2.0 * streaks, 0, 1) * 0.7 + rings * 0.3)
    # Painted: panel grooves (doors, drawers) and light noise.
    grooves = 1 - (1 - _pulse(across, panel, 0.012, f)) * (1 - _pulse(up, panel, 0.012, f))
    painted = colour_a * (1 + 0.4 * _fbm(x, up, f, (0.5, 0.1, 0.03), 2.0) - 0.45 * grooves)[:, None]
    # Fabric: a woven check and fine fibres.
    check = _pulse(across, 0.04, 0.02, f) * _pulse(up, 0.04, 0.02, f)
    fabric = (
        _mix(colour_a, colour_b, check * 0.5)
        * (1 + 0.5 * _fbm(x, up, f, (0.3, 0.08, 0.015), 3.0))[:, None]
    )
    return np.where(
        (variant == 0)[:, None], wood, np.where((variant == 1)[:, None], painted, fabric)
    )


BOX_MATERIALS = {
    FACADE: _facade_albedo,
    VEHICLE: _vehicle_albedo,
    POLE: _pole_albedo,
    SIGN: _sign_albedo,
    FOLIAGE: _foliage_albedo,
    FURNITURE: _furniture_albedo,
}


def wall_albedo(room, face, along, up, f):
    """Painted stucco, wallpaper stripes or brick, with a skirting board and pictures."""
    colours = np.asarray(room["walls"], dtype=np.float32)[np.where(face < 2, face, face - 2)]
    seed = room["noise_seed"]
    x = along + face.astype(np.float32) * 31.0
    noise = _fbm(x, up, f, (1.0, 0.25, 0.06, 0.015), seed)
    variant = room["wall_variant"]
    if variant == 1:
        stripes = _pulse(along, room["stripe"], room["stripe"] / 2, f)
        colour = colours * (1 + 0.5 * noise - 0.12 * stripes)[:, None]
    elif variant == 2:
        row = np.floor(up / 0.075)
        shifted = along + 0.11 * (row % 2)
        mortar = 1 - (1 - _pulse(up, 0.075, 0.012, f)) * (1 - _pulse(shifted, 0.22, 0.012, f))
        tone = (_cell_random(np.floor(shifted / 0.22), row, seed) - 0.5) * _detail(f, 0.075)
        colour = colours * (1 + 0.3 * tone + 0.4 * noise)[:, None]
        colour = _mix(colour, _colour((0.8, 0.8, 0.78)), mortar * 0.7)
    else:
        colour = colours * (1 + 0.8 * noise)[:, None]
    # Pictures: in some 1.6 m cells along the wall, a framed, colourful noise rectangle.
    cell = np.floor(along / 1.6)
    present = _cell_random(cell, face.astype(np.float32), seed) < 0.45
    start = cell * 1.6 + 0.3
    picture = _band(along, start, start + 1.0, f) * _band(up, 1.1, 1.8, f) * present
    hue = np.stack(
        [_cell_random(cell + k, face.astype(np.float32) + 5.0, seed) for k in (1.0, 2.0, 3.0)],
        axis=1,
    )
    art = hue * (1 + 1.6 * _fbm(along, up, f, (0.3, 0.1, 0.03), seed + 4))[:, None]
    frame = _band(along, start - 0.04, start + 1.04, f) * _band(up, 1.06, 1.84, f) * present
    colour = _mix(colour, _colour((0.15, 0.12, 0.1)), frame)
    colour = _mix(colour, art, picture)
    skirting = _band(up, -1.0, 0.1, f)
    return _mix(colour, _colour((0.9, 0.9, 0.88)), skirting)


def floor_albedo(room, x, z, f, surface):
    """Floor (planks, tiles or carpet) or ceiling (tiles), as a function of world x, z."""
    seed = room["noise_seed"] + (0.0 if surface == "floor" else 50.0)
    if surface == "ceiling":
        tile = 0.6
        joints = 1 - (1 - _pulse(x, tile, 0.015, f)) * (1 - _pulse(z, tile, 0.015, f))
        noise = _fbm(x, z, f, (0.5, 0.12, 0.03), seed)
        tone = (_cell_random(np.floor(x / tile), np.floor(z / tile), seed) - 0.5) * _detail(f, tile)
        return _colour(room["ceiling"]) * (1 + 0.5 * noise + 0.1 * tone - 0.3 * joints)[:, None]
    colour = _colour(room["floor"])
    variant = room["floor_variant"]
    if variant == 0:
        plank = room["plank"]
        row = np.floor(z / plank)
        board_length = 1.5
        shifted = x + _cell_random(row, row, seed) * board_length
        board = np.floor(shifted / board_length)
        joints = 1 - (1 - _pulse(z, plank, 0.004, f)) * (
            1 - _pulse(shifted, board_length, 0.004, f)
        )
        tone = (_cell_random(board, row, seed + 1) - 0.5) * _detail(f, plank)
        # Grain: noise stretched along the boards; its fine scale is the across-board one.
        grain = _fbm(shifted / 8.0, z, f, (0.05, 0.015), seed)
        return colour * (1 + 0.45 * tone + 0.5 * grain - 0.5 * joints)[:, None]
    if variant == 1:
        tile = room["tile"]
        joints = 1 - (1 - _pulse(x, tile, 0.008, f)) * (1 - _pulse(z, tile, 0.008, f))
        tone = (_cell_random(np.floor(x / tile), np.floor(z / tile), seed) - 0.5) * _detail(f, tile)
        noise = _fbm(x, z, f, (0.4, 0.1, 0.02), seed)
        return _mix(
            colour * (1 + 0.4 * tone + 0.6 * noise)[:, None], _colour((0.8, 0.8, 0.78)), joints
        )
    noise = _fbm(x, z, f, (1.0, 0.2, 0.05, 0.012), seed)
    return colour * (1 + 1.1 * noise)[:, None]
