"""Plane and sphere geometry on stored coordinates (`[longitude, latitude]`), as the database computes it."""

from __future__ import annotations

import itertools
import math
from typing import Any

Ring = list[tuple[float, float]]


def point_of(value: Any) -> tuple[float, float] | None:
    """A stored value read as a point, as the database reads one: `[x, y]`, `{x, y}`-like maps, GeoJSON."""
    if isinstance(value, dict):
        if isinstance(value.get("type"), str):
            if value["type"] != "Point":
                return None
            value = value.get("coordinates")
        else:
            for x, y in (("x", "y"), ("lng", "lat"), ("longitude", "latitude")):
                if x in value and y in value:
                    return pair(value[x], value[y])
            return None
    if isinstance(value, list) and len(value) == 2:
        return pair(value[0], value[1])
    return None


def pair(x: Any, y: Any) -> tuple[float, float] | None:
    try:
        return float(x), float(y)
    except (TypeError, ValueError):
        return None


def rings_of(value: Any) -> list[Ring] | None:
    """A stored GeoJSON Polygon as its shell and holes."""
    if not (isinstance(value, dict) and value.get("type") == "Polygon"):
        return None
    coordinates = value.get("coordinates")
    if not isinstance(coordinates, list) or not coordinates:
        return None
    rings: list[Ring] = []
    for ring in coordinates:
        if not isinstance(ring, list) or len(ring) < 4:
            return None
        points = [point_of(point) if isinstance(point, list) else None for point in ring]
        if any(point is None for point in points):
            return None
        rings.append([point for point in points if point is not None])
    return rings


def ring_side(x: float, y: float, ring: Ring) -> int:
    """1 inside a closed ring, 0 on its boundary, -1 outside (planar, even-odd)."""
    inside = False
    for (x1, y1), (x2, y2) in itertools.pairwise(ring):
        cross = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        if cross == 0 and min(x1, x2) <= x <= max(x1, x2) and min(y1, y2) <= y <= max(y1, y2):
            return 0
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return 1 if inside else -1


def polygon_side(x: float, y: float, rings: list[Ring]) -> int:
    """Where a point lies against a polygon with holes: 1 interior, 0 boundary, -1 exterior."""
    side = ring_side(x, y, rings[0])
    if side != 1:
        return side
    for hole in rings[1:]:
        inner = ring_side(x, y, hole)
        if inner != -1:
            return -inner
    return 1


def is_convex(ring: Ring) -> bool:
    signs = set()
    points = ring[:-1]
    for i, (x1, y1) in enumerate(points):
        x2, y2 = points[(i + 1) % len(points)]
        x3, y3 = points[(i + 2) % len(points)]
        cross = (x2 - x1) * (y3 - y2) - (y2 - y1) * (x3 - x2)
        if cross:
            signs.add(cross > 0)
    return len(signs) <= 1


def great_circle(lng_a: float, lat_a: float, lng_b: float, lat_b: float) -> float:
    """The haversine angle between two points, in radians (the database's formula, clamp included)."""
    phi_a, phi_b = math.radians(lat_a), math.radians(lat_b)
    d_phi, d_lambda = phi_b - phi_a, math.radians(lng_b - lng_a)
    h = math.sin(d_phi / 2.0) ** 2 + math.cos(phi_a) * math.cos(phi_b) * math.sin(d_lambda / 2.0) ** 2
    return 2.0 * math.asin(math.sqrt(min(max(h, 0.0), 1.0)))
