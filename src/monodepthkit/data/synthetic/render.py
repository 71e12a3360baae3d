"""The vectorised numpy ray caster and shader of one scene and one camera."""

from __future__ import annotations

import numpy as np

from monodepthkit.data.synthetic.scenes import Scene
from monodepthkit.data.synthetic.textures import (
    BOX_MATERIALS,
    floor_albedo,
    grime,
    road_albedo,
    sky_colour,
    wall_albedo,
)

_NEAR = 0.02
_FAR = 300.0
_SKY, _GROUND, _ROOM = -1, -2, -3
# Box corners (local sign patterns) and the 12 edges between them, for screen-space bounds.
_CORNERS = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], float)
_EDGES = np.array(
    [(a, b) for a in range(8) for b in range(a + 1, 8) if np.sum(_CORNERS[a] != _CORNERS[b]) == 1]
)


class Renderer:
    """Ray caster and shader for one scene and one camera."""

    def __init__(
        self,
        scene: Scene,
        K: np.ndarray,
        width: int,
        height: int,
        min_depth: float,
        max_depth: float,
    ) -> None:
        self.scene = scene
        self.K = K
        self.width = width
        self.height = height
        self.min_depth = min_depth
        self.max_depth = max_depth
        u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
        fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
        self.rays = np.stack([(u - cx) / fx, (v - cy) / fy, np.ones_like(u)]).reshape(3, -1)
        self.rays = self.rays.astype(np.float32)
        self.ray_norm = np.linalg.norm(self.rays, axis=0)
        self.pixel_angle = np.float32(1.0 / min(fx, fy))
        boxes = scene.boxes
        self.box_cos = np.cos(boxes["yaw"])
        self.box_sin = np.sin(boxes["yaw"])
        self.box_aligned = boxes["yaw"] == 0.0

    def render(self, pose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Ray cast and shade one view.

        Args:
            pose: [4, 4] camera-to-world.

        Returns:
            (image [H, W, 3] uint8 RGB, depth [H, W] float32 z-depth in metres, 0 = invalid).
        """
        rotation = pose[:3, :3]
        origin = pose[:3, 3]
        directions = (rotation.astype(np.float32) @ self.rays).reshape(3, self.height, self.width)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            inverse = 1.0 / directions
            depth, hit = self._cast(rotation, origin, directions, inverse)
            image = self._shade(origin, directions, depth, hit)
        valid = (hit != _SKY) & (depth >= self.min_depth) & (depth <= self.max_depth)
        return image, np.where(valid, depth, np.float32(0.0)).astype(np.float32)

    # -- intersections

    def _cast(self, rotation, origin, directions, inverse):
        """Nearest hit per pixel: (t [H, W] float32 z-depth, hit [H, W] int32 id)."""
        shape = (self.height, self.width)
        depth = np.full(shape, np.inf, dtype=np.float32)
        hit = np.full(shape, _SKY, dtype=np.int32)
        if self.scene.road is not None:
            ground = np.float32(-origin[1]) * inverse[1]  # the plane y = 0, camera above it
            below = directions[1] > 0
            depth = np.where(below, ground, depth)
            hit[below] = _GROUND
        if self.scene.room is not None:
            depth, hit = self._room_exit(origin, inverse)
        if len(self.scene.boxes["center"]):
            self._cast_boxes(rotation, origin, directions, inverse, depth, hit)
        return depth, hit

    def _room_exit(self, origin, inverse):
        """Where rays from inside the room leave it (walls, floor, ceiling)."""
        width, ceiling, length = self.scene.room["size"]
        exits = []
        for axis, (low, high) in enumerate(((0.0, width), (-ceiling, 0.0), (0.0, length))):
            a = np.float32(low - origin[axis]) * inverse[axis]
            b = np.float32(high - origin[axis]) * inverse[axis]
            exits.append(np.maximum(a, b))
        depth = np.minimum(np.minimum(exits[0], exits[1]), exits[2]).astype(np.float32)
        return depth, np.full(depth.shape, _ROOM, dtype=np.int32)

    def _cast_boxes(self, rotation, origin, directions, inverse, depth, hit):
        boxes = self.scene.boxes
        bounds = self._screen_bounds(rotation, origin)
        if bounds is None:
            return
        indices, u0, u1, v0, v1, z_near = bounds
        relative = (origin[None, :] - boxes["center"]).astype(np.float64)
        dx_all, _, dz_all = directions
        for k, a0, a1, b0, b1, z_min in zip(indices, u0, u1, v0, v1, z_near, strict=True):
            window = (slice(b0, b1 + 1), slice(a0, a1 + 1))
            best = depth[window]
            if z_min >= best.max():
                continue  # everything in the window is nearer than the box can be
            hx, hy, hz = boxes["half"][k]
            rx, ry, rz = relative[k]
            if self.box_aligned[k]:
                ox, oz = rx, rz
                ix = inverse[0][window]
                iz = inverse[2][window]
            else:
                c, s = self.box_cos[k], self.box_sin[k]
                ox, oz = c * rx - s * rz, s * rx + c * rz
                dx, dz = dx_all[window], dz_all[window]
                ix = 1.0 / (np.float32(c) * dx - np.float32(s) * dz)
                iz = 1.0 / (np.float32(s) * dx + np.float32(c) * dz)
            iy = inverse[1][window]
            t_low = np.float32(-hx - ox) * ix
            t_high = np.float32(hx - ox) * ix
            near = np.minimum(t_low, t_high)
            far = np.maximum(t_low, t_high)
            t_low = np.float32(-hy - ry) * iy
            t_high = np.float32(hy - ry) * iy
            np.maximum(near, np.minimum(t_low, t_high), out=near)
            np.minimum(far, np.maximum(t_low, t_high), out=far)
            t_low = np.float32(-hz - oz) * iz
            t_high = np.float32(hz - oz) * iz
            np.maximum(near, np.minimum(t_low, t_high), out=near)
            np.minimum(far, np.maximum(t_low, t_high), out=far)
            closer = (near <= far) & (near > 0) & (near < best)
            best[closer] = near[closer]
            hit[window][closer] = k

    def _screen_bounds(self, rotation, origin):
        """Pixel windows of the boxes in view, nearest first (None when none is in view).

        The window bounds the projection of the box clipped to the near plane, so a pixel
        outside it cannot see the box; ``z_near`` is the smallest depth the box can produce.
        """
        boxes = self.scene.boxes
        local = _CORNERS[None] * boxes["half"][:, None, :]  # [M, 8, 3]
        c = self.box_cos[:, None]
        s = self.box_sin[:, None]
        world = (
            np.stack(
                [
                    local[..., 0] * c + local[..., 2] * s,
                    local[..., 1],
                    -local[..., 0] * s + local[..., 2] * c,
                ],
                axis=-1,
            )
            + boxes["center"][:, None, :]
        )
        camera = (world - origin) @ rotation  # rows: R^T (p - C)
        z = camera[..., 2]
        front = z > _NEAR
        start = camera[:, _EDGES[:, 0]]
        end = camera[:, _EDGES[:, 1]]
        crossing = front[:, _EDGES[:, 0]] != front[:, _EDGES[:, 1]]
        with np.errstate(divide="ignore", invalid="ignore"):
            fraction = (_NEAR - start[..., 2]) / (end[..., 2] - start[..., 2])
        clipped = start + np.nan_to_num(fraction)[..., None] * (end - start)
        points = np.concatenate([camera, clipped], axis=1)  # [M, 20, 3]
        usable = np.concatenate([front, crossing], axis=1)
        pz = np.where(usable, np.maximum(points[..., 2], _NEAR), 1.0)
        K = self.K
        u = K[0, 0] * points[..., 0] / pz + K[0, 2]
        v = K[1, 1] * points[..., 1] / pz + K[1, 2]
        u_min = np.where(usable, u, np.inf).min(axis=1)
        u_max = np.where(usable, u, -np.inf).max(axis=1)
        v_min = np.where(usable, v, np.inf).min(axis=1)
        v_max = np.where(usable, v, -np.inf).max(axis=1)
        z_near = np.where(usable, pz, np.inf).min(axis=1)
        visible = (
            usable.any(axis=1)
            & (z_near < _FAR)
            & (u_max >= 0)
            & (u_min <= self.width - 1)
            & (v_max >= 0)
            & (v_min <= self.height - 1)
        )
        if not visible.any():
            return None
        indices = np.flatnonzero(visible)
        indices = indices[np.argsort(z_near[indices], kind="stable")]
        u0 = np.clip(np.floor(u_min[indices]), 0, self.width - 1).astype(int)
        u1 = np.clip(np.ceil(u_max[indices]), 0, self.width - 1).astype(int)
        v0 = np.clip(np.floor(v_min[indices]), 0, self.height - 1).astype(int)
        v1 = np.clip(np.ceil(v_max[indices]), 0, self.height - 1).astype(int)
        return indices, u0, u1, v0, v1, z_near[indices].astype(np.float32)

    # -- shading

    def _shade(self, origin, directions, depth, hit):
        scene = self.scene
        count = self.width * self.height
        d = directions.reshape(3, count)
        depth = depth.reshape(count)
        hit = hit.reshape(count)
        image = np.zeros((count, 3), dtype=np.float32)
        shading = np.zeros(count, dtype=np.float32)
        footprint_scale = depth * self.ray_norm * self.pixel_angle  # metres per pixel, head-on

        sky = np.flatnonzero(hit == _SKY)
        if len(sky):
            image[sky] = sky_colour(scene.sky, d[:, sky])
            shading[sky] = 1.0

        groups = []
        if scene.road is not None:
            groups.append(np.flatnonzero(hit == _GROUND))
        if scene.room is not None:
            groups.append(np.flatnonzero(hit == _ROOM))
        groups.append(np.flatnonzero(hit >= 0))
        light = scene.light.astype(np.float32)
        for group, pixels in enumerate(groups):
            if not len(pixels):
                continue
            t = depth[pixels]
            ray = d[:, pixels]
            relative = ray * t  # hit point minus camera centre, world axes
            point = relative + origin.astype(np.float32)[:, None]
            if group == len(groups) - 1:
                albedo, normal = self._shade_boxes(hit[pixels], relative, origin, ray, t, pixels)
            elif scene.road is not None:
                normal = np.zeros((3, len(pixels)), np.float32)
                normal[1] = -1.0
                footprint = _footprint(footprint_scale[pixels], normal, ray, self.ray_norm[pixels])
                albedo = road_albedo(scene.road, point, footprint)
            else:
                albedo, normal = self._shade_room(point, ray, footprint_scale[pixels], pixels)
            lambert = np.maximum(light @ normal, 0.0)
            image[pixels] = albedo
            shading[pixels] = scene.ambient + scene.diffuse * lambert
        image *= shading[:, None]
        rgb = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
        return rgb.reshape(self.height, self.width, 3)

    def _shade_room(self, point, ray, scale, pixels):
        room = self.scene.room
        width, ceiling, length = room["size"]
        # Which face: the bound the point lies on (smallest distance).
        distances = np.stack(
            [point[0], width - point[0], point[1] + ceiling, -point[1], point[2], length - point[2]]
        )
        face = np.argmin(np.abs(distances), axis=0)
        normal = np.zeros_like(point)
        axis = face // 2
        sign = np.where(face % 2 == 0, 1.0, -1.0).astype(np.float32)  # inward
        normal[axis, np.arange(len(face))] = sign
        footprint = _footprint(scale, normal, ray, self.ray_norm[pixels])
        albedo = np.empty((len(face), 3), dtype=np.float32)
        walls = np.flatnonzero(axis != 1)
        if len(walls):
            along = np.where(axis[walls] == 0, point[2, walls], point[0, walls])
            albedo[walls] = wall_albedo(
                room, face[walls], along, -point[1, walls], footprint[walls]
            )
        for face_id, surface in ((3, "floor"), (2, "ceiling")):
            chosen = np.flatnonzero(face == face_id)
            if len(chosen):
                albedo[chosen] = floor_albedo(
                    room, point[0, chosen], point[2, chosen], footprint[chosen], surface
                )
        u = np.where(axis == 0, point[2], point[0]) + 31.0 * face
        v = np.where(axis == 1, point[2], -point[1])
        albedo += grime(u, v, footprint)
        return albedo, normal

    def _shade_boxes(self, ids, relative, origin, ray, t, pixels):
        boxes = self.scene.boxes
        centre = (boxes["center"][ids] - origin).astype(np.float32).T  # [3, n]
        c = self.box_cos[ids].astype(np.float32)
        s = self.box_sin[ids].astype(np.float32)
        offset = relative - centre
        local = np.stack([c * offset[0] - s * offset[2], offset[1], s * offset[0] + c * offset[2]])
        half = boxes["half"][ids].astype(np.float32).T
        ratio = np.abs(local) / half
        axis = np.argmax(ratio, axis=0)
        columns = np.arange(len(ids))
        sign = np.sign(local[axis, columns])
        # Local face normal rotated back to the world (yaw about y).
        normal = np.zeros_like(local)
        normal[0] = np.where(axis == 0, sign * c, np.where(axis == 2, sign * s, 0.0))
        normal[1] = np.where(axis == 1, sign, 0.0)
        normal[2] = np.where(axis == 0, -sign * s, np.where(axis == 2, sign * c, 0.0))
        footprint = _footprint(
            t * self.ray_norm[pixels] * self.pixel_angle, normal, ray, self.ray_norm[pixels]
        )
        # Face coordinates in metres: ``across`` along the face, ``up`` from the box bottom.
        side = axis != 1
        across = np.where(axis == 0, local[2] + half[2], local[0] + half[0])
        up = np.where(side, half[1] - local[1], local[2] + half[2])
        face_length = np.where(axis == 0, 2 * half[2], 2 * half[0])
        face_id = (axis * 2 + (sign > 0)).astype(np.float32)
        params = boxes["params"][ids]
        albedo = np.empty((len(ids), 3), dtype=np.float32)
        material = boxes["material"][ids]
        for kind, function in BOX_MATERIALS.items():
            chosen = np.flatnonzero(material == kind)
            if len(chosen):
                albedo[chosen] = function(
                    params[chosen],
                    across[chosen],
                    up[chosen],
                    side[chosen],
                    face_length[chosen],
                    face_id[chosen],
                    footprint[chosen],
                )
        albedo += grime(across + 13.0 * params[:, 10] + 7.0 * face_id, up, footprint)
        return albedo, normal


def _footprint(scale, normal, ray, ray_norm):
    """Pixel footprint on the surface in metres: head-on size over |cos(incidence)|."""
    cosine = np.abs(np.sum(normal * ray, axis=0)) / ray_norm
    return np.minimum(scale / np.maximum(cosine, 0.05), 50.0).astype(np.float32)
