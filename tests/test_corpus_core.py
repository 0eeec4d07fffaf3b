"""Generated regression corpus for the _core entry points (issue 17): every array argument of
every entry point, mutated (NaN, inf, 1e300, complex, object, a wrong number of dimensions, an
empty array) is refused with a ValueError or TypeError naming the argument; a reversed (strided)
view gives the same result as its contiguous copy. No binary blobs: the cases are built here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from extreme3d import _core

V, K, E = 100, 5, 4
RV, TV = np.array([0.05, -0.1, 0.02]), np.array([1.0, -2.0, -500.0])


def tiny_model() -> _core.FaceModel:
    """A small valid FaceModel (V vertices on a grid, K + E components)."""
    return _core.FaceModel(**model_arrays())


def model_arrays() -> dict[str, np.ndarray]:
    """Arrays of the small valid FaceModel."""
    rng = np.random.default_rng(0)
    xy = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0)), -1).reshape(-1, 2) * 10 - 45
    mu = np.concatenate([xy, np.zeros((V, 1))], 1).reshape(-1).astype(np.float32)
    faces = np.array([[i, i + 1, i + 10] for i in range(89) if i % 10 != 9], np.int32)
    return {
        "shape_mu": mu, "shape_pc": rng.standard_normal((3 * V, K)).astype(np.float32),
        "shape_ev": np.ones(K, np.float32), "exp_mu": np.zeros(3 * V, np.float32),
        "exp_pc": rng.standard_normal((3 * V, E)).astype(np.float32),
        "exp_ev": np.ones(E, np.float32), "faces": faces, "faces_fill": faces,
        "pair": np.arange(V, dtype=np.int32), "inner_landmarks": np.arange(68, dtype=np.int32),
        "outer_landmarks": np.arange(68, dtype=np.int32),
    }


def _mesh() -> tuple[np.ndarray, np.ndarray]:
    """A small grid mesh in front of the camera: (vertices (V,3) float32, faces (F,3) int32)."""
    a = model_arrays()
    return a["shape_mu"].reshape(-1, 3).copy(), a["faces"].copy()


def _landmarks() -> np.ndarray:
    return np.stack([np.linspace(150, 350, 68), np.linspace(180, 330, 68)], 1)


def entries() -> dict[str, tuple[Callable[..., Any], dict[str, Any], tuple[str, ...]]]:
    """Entry point -> (function, valid keyword arguments, the array arguments to mutate)."""
    model = tiny_model()
    v, f = _mesh()
    rng = np.random.default_rng(3)
    img = (rng.uniform(0, 255, (64, 64))).astype(np.uint8)
    depth = rng.uniform(0.9, 1.0, (40, 40)).astype(np.float32)
    return {
        "FaceModel": (_core.FaceModel, model_arrays(), tuple(model_arrays())),
        "vertices": (model.vertices, {"alpha": np.zeros(K), "expr": np.zeros(E)},
                     ("alpha", "expr")),
        "render": (_core.render, {"vertices": v, "faces": f, "rvec": RV, "tvec": TV,
                                  "colors": np.full((V, 3), 128.0), "width": 64, "height": 64},
                   ("vertices", "faces", "rvec", "tvec", "colors")),
        "render_triangle_ids": (_core.render_triangle_ids,
                                {"vertices": v, "faces": f, "rvec": RV, "tvec": TV,
                                 "width": 64, "height": 64},
                                ("vertices", "faces", "rvec", "tvec")),
        "depth_to_metric": (_core.depth_to_metric, {"depth": depth}, ("depth",)),
        "epnp": (_core.epnp, {"points3d": rng.standard_normal((68, 3)) * 40,
                              "points2d": _landmarks()}, ("points3d", "points2d")),
        "fit_pose_expression": (_core.fit_pose_expression,
                                {"model": model, "landmarks": _landmarks(),
                                 "alpha": np.zeros(K)}, ("landmarks", "alpha")),
        "fit_identity": (_core.fit_identity, {"model": model, "landmarks": _landmarks(),
                                              "iterations": 1}, ("landmarks",)),
        "combine_bump": (_core.combine_bump,
                         {"model": model, "alpha": np.zeros(K), "expr": np.zeros(E), "rvec": RV,
                          "tvec": TV, "bump": img, "mask": img, "width": 52, "height": 52},
                         ("alpha", "expr", "rvec", "tvec", "bump", "mask")),
        "dense_mesh": (_core.dense_mesh, {"depth": depth, "mask": img[:52, :52],
                                          "bump": img[:52, :52]}, ("depth", "mask", "bump")),
        "grid_faces": (_core.grid_faces, {"vindex": np.arange(16, dtype=np.int32).reshape(4, 4)},
                       ("vindex",)),
        "occlusion_map": (_core.occlusion_map, {"ref_depth": depth, "posed_depth": depth,
                                                "rvec": RV, "tvec": TV},
                          ("ref_depth", "posed_depth", "rvec", "tvec")),
        "occlusion_reference_pose": (_core.occlusion_reference_pose, {"rvec": RV, "tvec": TV},
                                     ("rvec", "tvec")),
        "occlusion_scores": (_core.occlusion_scores,
                             {"vertices": v, "visible": np.ones(V, bool), "occ_map": depth,
                              "rvec": RV, "tvec": TV},
                             ("vertices", "visible", "occ_map", "rvec", "tvec")),
        "blur_counts": (_core.blur_counts, {"counts": img}, ("counts",)),
        "detector_pyramid_level": (_core.detector_pyramid_level,
                                   {"image": np.repeat(img[:40, :, None], 3, axis=2), "upsample": 1,
                                    "level": 2}, ("image",)),
        "delaunay_triangles": (_core.delaunay_triangles,
                               {"points": rng.uniform(0, 100, (20, 2)).astype(np.float32)},
                               ("points",)),
        "estimate_rigid_transform": (_core.estimate_rigid_transform,
                                     {"p1": v[:20].copy(), "p2": v[:20] + 1}, ("p1", "p2")),
        "format_ply_body": (_core.format_ply_body,
                            {"vertices": v, "colors": np.full((V, 3), 7, np.uint8), "faces": f},
                            ("vertices", "colors", "faces")),
        "vertex_normals": (_core.vertex_normals, {"vertices": v, "faces": f},
                           ("vertices", "faces")),
        "vertex_footprint": (_core.vertex_footprint,
                             {"uv": v[:, :2].astype(np.float64), "faces": f}, ("uv", "faces")),
        "mirror_nearest": (_core.mirror_nearest, {"reference": v, "queries": v[:10].copy(),
                                                  "max_dist": 3.0},
                           ("reference", "queries")),
        "push_pull_fill": (_core.push_pull_fill,
                           {"image": rng.uniform(0, 1, (16, 16, 3)).astype(np.float32),
                            "known": rng.uniform(0, 1, (16, 16)) > 0.5}, ("image", "known")),
        "rasterize_uv": (_core.rasterize_uv, {"uv": rng.uniform(0, 1, (V, 2)), "faces": f,
                                              "size": 32}, ("uv", "faces")),
        "bake_texture": (_core.bake_texture,
                         {"vertices": v, "faces": f, "uv": rng.uniform(0, 1, (V, 2)),
                          "image": rng.integers(0, 256, (64, 64, 3)).astype(np.uint8),
                          "zbuf": np.full((64, 64), -500.0, np.float32),
                          "shown": np.ones((64, 64), bool), "rotation": np.eye(3), "tvec": TV,
                          "size": 16, "focal": 60.0},
                         ("vertices", "faces", "uv", "image", "zbuf", "shown", "rotation",
                          "tvec")),
        "photo_samples": (_core.photo_samples,
                          {"points": v.astype(np.float64), "normals": np.tile([0.0, 0, 1], (V, 1)),
                           "image": rng.integers(0, 256, (64, 64, 3)).astype(np.uint8),
                           "zbuf": np.full((64, 64), -500.0, np.float32),
                           "shown": np.ones((64, 64), bool), "rotation": np.eye(3), "tvec": TV,
                           "focal": 60.0},
                          ("image", "zbuf", "shown", "rotation", "tvec")),
        "delaunay_2d": (_core.delaunay_2d, {"points": rng.uniform(0, 100, (20, 2))}, ("points",)),
        "weighted_positions": (_core.weighted_positions,
                               {"points": rng.uniform(0, 1, (V, 2)), "tri": f[:10].copy(),
                                "w": np.full((10, 3), 1 / 3)}, ("points", "tri", "w")),
        "distance_transform": (_core.distance_transform,
                               {"mask": rng.uniform(0, 1, (16, 16)) > 0.3}, ("mask",)),
        "region_distance": (_core.region_distance,
                            {"cells": np.arange(40, 80), "within": np.ones((16, 16), bool),
                             "closing": 2}, ("cells", "within")),
        "orient_by_area": (_core.orient_by_area, {"uv": rng.uniform(0, 1, (V, 2)), "triangles": f},
                           ("uv", "triangles")),
        "drop_bowties": (_core.drop_bowties, {"faces": f, "num_vertices": V}, ("faces",)),
        "format_obj_rows": (_core.format_obj_rows, {"array": v.astype(np.float64), "prefix": "v "},
                            ("array",)),
    }


ENTRIES = entries()
#: mutations expected to be refused (ValueError / TypeError)
REFUSED = ("nan", "inf", "1e300", "complex", "object", "extra_dim", "empty")
CASES = [(name, arg, mut) for name, (_f, _kw, args) in ENTRIES.items() for arg in args
         for mut in (*REFUSED, "reversed")]
#: accepted by design: empty inputs that are valid empty problems (a mesh without faces, an empty
#: image or point set), and the text formatters, which print NaN and inf as 'nan' / 'inf' (their
#: callers refuse NaN meshes before writing)
ACCEPTED = {
    *((e, a, "empty") for e, a in [
        ("FaceModel", "faces"), ("FaceModel", "faces_fill"), ("render", "faces"),
        ("render_triangle_ids", "faces"), ("depth_to_metric", "depth"), ("dense_mesh", "bump"),
        ("grid_faces", "vindex"), ("blur_counts", "counts"), ("delaunay_triangles", "points"),
        ("detector_pyramid_level", "image"),
        ("format_ply_body", "faces"), ("vertex_normals", "faces"), ("vertex_footprint", "faces"),
        ("mirror_nearest", "reference"),
        ("delaunay_2d", "points"), ("region_distance", "cells"), ("orient_by_area", "triangles"),
        ("drop_bowties", "faces"),
        ("mirror_nearest", "queries"), ("rasterize_uv", "faces"), ("bake_texture", "faces"),
        ("format_obj_rows", "array")]),
    *((e, "vertices" if e == "format_ply_body" else "array", m)
      for e in ("format_ply_body", "format_obj_rows") for m in ("nan", "inf", "1e300")),
}


def mutate(value: np.ndarray, how: str) -> np.ndarray:
    """`value` with one hostile change."""
    a = np.asarray(value)
    if how in ("nan", "inf", "1e300"):
        b = a.astype(np.float64).copy()
        b.reshape(-1)[b.size // 2] = {"nan": np.nan, "inf": np.inf, "1e300": 1e300}[how]
        return b
    if how == "complex":
        return a.astype(np.complex64)
    if how == "object":
        return a.astype(object)
    if how == "extra_dim":
        return a[..., None, None]
    if how == "empty":
        return a[:0]
    if how == "reversed":  # the same values, read through a negative stride
        big = np.repeat(a, 2, axis=0)[::-1]
        return big[::2][::-1] if a.ndim else a
    raise AssertionError(how)


def _same(x: Any, y: Any) -> None:
    """Results equal (arrays, tuples, dicts, scalars), NaN equal to NaN."""
    if isinstance(x, dict):
        assert x.keys() == y.keys()
        for k in x:
            if k != "timings_ms":
                _same(x[k], y[k])
    elif isinstance(x, tuple | list):
        assert len(x) == len(y)
        for a, b in zip(x, y, strict=True):
            _same(a, b)
    elif isinstance(x, np.ndarray | float | int | bytes | bool):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(("entry", "arg", "how"), CASES,
                         ids=[f"{e}-{a}-{m}" for e, a, m in CASES])
def test_core_entry_point_mutation(entry: str, arg: str, how: str) -> None:
    fn, kwargs, _args = ENTRIES[entry]
    bad = dict(kwargs)
    bad[arg] = mutate(kwargs[arg], how)
    if how == "reversed":
        np.testing.assert_array_equal(bad[arg], kwargs[arg])
        _same(fn(**bad), fn(**kwargs))
        return
    if (entry, arg, how) in ACCEPTED:
        fn(**bad)  # no exception, no crash
        return
    try:
        fn(**bad)
    except (ValueError, TypeError) as exc:
        assert "\n" not in str(exc).strip()
        return
    raise AssertionError(f"{entry}({arg}={how}) was accepted")


def test_mirror_nearest_index_stays_bounded_for_a_tiny_max_dist() -> None:
    """A tiny max_dist over a wide point set once asked for a grid of ~10^13 cells (minutes,
    gigabytes); the index grows its cells instead, and the answers stay exact."""
    import time

    rng = np.random.default_rng(5)
    ref = rng.uniform(-5e4, 5e4, (2000, 3))
    queries = ref[:50] * np.array([-1.0, 1.0, 1.0])  # mirrored: each one's partner is exact
    t0 = time.perf_counter()
    got = _core.mirror_nearest(ref, queries, 1e-3)
    assert time.perf_counter() - t0 < 10.0
    np.testing.assert_array_equal(got, np.arange(50))
    far = _core.mirror_nearest(ref, queries + 1.0, 1e-3)
    assert (far == -1).all()
