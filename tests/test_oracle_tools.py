"""The oracle bench's recovery maths (extreme3d.compare) on synthetic meshes, and the oracle run.

The maths tests never need the original program. The last test runs the original `TestBump`
(built by ../shared/oracle/build.sh) on one crop; it skips unless EXTREME3D_ORACLE names it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from extreme3d.compare import (
    nearest_vertex_distances,
    recover_expression,
    recover_pose,
    rigid_transform,
    rvec_to_rotation,
    vertex_distances,
)

REPO = Path(__file__).resolve().parent.parent


def _toy_model(rng: np.random.Generator, v: int = 300, k: int = 5, e: int = 4) -> SimpleNamespace:
    """A random linear shape + expression model in the MorphableModel array layout."""
    return SimpleNamespace(
        shape_mu=rng.normal(0, 50, 3 * v).astype(np.float32),
        shape_pc=rng.normal(0, 1, (3 * v, k)).astype(np.float32),
        shape_ev=rng.uniform(1, 5, k).astype(np.float32),
        exp_mu=rng.normal(0, 1, 3 * v).astype(np.float32),
        exp_pc=rng.normal(0, 1, (3 * v, e)).astype(np.float32),
        exp_ev=rng.uniform(0.5, 2, e).astype(np.float32),
    )


def _shape(m: SimpleNamespace, alpha: np.ndarray, expr: np.ndarray) -> np.ndarray:
    s = m.shape_mu + m.exp_mu + m.shape_pc @ (alpha * m.shape_ev) + m.exp_pc @ (expr * m.exp_ev)
    return s.reshape(-1, 3)


def test_rigid_transform_recovers_known_pose() -> None:
    rng = np.random.default_rng(0)
    pts = rng.normal(0, 60, (500, 3))
    rvec = np.array([0.2, -0.7, 0.1])
    r = rvec_to_rotation(rvec)
    t = np.array([3.0, -8.0, -900.0])
    r2, t2 = rigid_transform(pts, pts @ r.T + t)
    np.testing.assert_allclose(r2, r, atol=1e-10)
    np.testing.assert_allclose(t2, t, atol=1e-8)
    assert abs(np.linalg.det(r2) - 1) < 1e-12


def test_rigid_transform_never_returns_a_reflection() -> None:
    rng = np.random.default_rng(1)
    pts = rng.normal(0, 10, (50, 3))
    mirrored = pts * np.array([-1.0, 1.0, 1.0])
    r, _ = rigid_transform(pts, mirrored)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_recover_pose_and_expression_from_synthetic_meshes() -> None:
    rng = np.random.default_rng(2)
    m = _toy_model(rng)
    alpha = rng.normal(0, 1, 5)
    expr = np.array([0.5, -1.2, 2.0, 0.1])
    frontal = _shape(m, alpha, expr)
    rvec, tvec = np.array([-0.1, 0.5, 0.05]), np.array([10.0, 5.0, -800.0])
    aligned = frontal @ rvec_to_rotation(rvec).T + tvec
    # the oracle's PLYs keep 6 significant digits
    frontal6 = np.array([float(f"{x:.6g}") for x in frontal.ravel()]).reshape(-1, 3)
    aligned6 = np.array([float(f"{x:.6g}") for x in aligned.ravel()]).reshape(-1, 3)

    e, res_e = recover_expression(m, alpha, frontal6)
    np.testing.assert_allclose(e, expr, atol=1e-3)
    assert res_e < 1e-3
    r, t, res_p = recover_pose(frontal6, aligned6)
    np.testing.assert_allclose(r, rvec, atol=1e-5)
    np.testing.assert_allclose(t, tvec, atol=1e-2)
    assert res_p < 1e-2


def test_recover_expression_pads_and_truncates_alpha() -> None:
    rng = np.random.default_rng(3)
    m = _toy_model(rng)
    alpha = rng.normal(0, 1, 5)
    expr = np.array([1.0, 0.0, -0.5, 0.3])
    frontal = _shape(m, alpha, expr)
    long_alpha = np.concatenate([alpha, rng.normal(0, 1, 94)])  # 99 like the original's files
    e, _ = recover_expression(m, long_alpha, frontal)
    np.testing.assert_allclose(e, expr, atol=1e-4)
    e0, res0 = recover_expression(m, None, _shape(m, np.zeros(5), expr))
    np.testing.assert_allclose(e0, expr, atol=1e-4)
    assert res0 < 1e-3


def test_distances() -> None:
    a = np.array([[0.0, 0, 0], [1, 0, 0], [0, 2, 0]])
    b = a + np.array([0.0, 0, 0.5])
    np.testing.assert_allclose(vertex_distances(a, b), [0.5, 0.5, 0.5])
    with pytest.raises(ValueError):
        vertex_distances(a, b[:2])
    c = np.vstack([b, [[np.nan, 0, 0], [10, 0, 0]]])
    d = nearest_vertex_distances(a, c)
    assert len(d) == 3 + 4  # a->c for 3 vertices, c->a for the 4 finite ones
    assert d.max() == pytest.approx(9.0)
    assert np.median(d) == pytest.approx(0.5)


@pytest.mark.slow
def test_oracle_bench_runs_on_one_crop(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    """bench/oracle.py end to end on one crop with the original program (EXTREME3D_ORACLE)."""
    oracle = os.environ.get("EXTREME3D_ORACLE")
    if not oracle or not os.access(oracle, os.X_OK):
        pytest.skip("EXTREME3D_ORACLE (path to the original TestBump) not set")
    shared: Path = request.getfixturevalue("shared")
    sfm_h5: Path = request.getfixturevalue("sfm_h5")
    pytest.importorskip("extreme3d.fitting")
    pytest.importorskip("extreme3d.geometry")
    name = sorted(p.stem for p in (shared / "data" / "paper" / "imgs").glob("*.pts"))[0]
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "oracle.py"), "--oracle", oracle,
         "--model", str(sfm_h5), "--names", name, "--work", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("SUMMARY images=1 ")
    fields = dict(kv.split("=") for kv in last.split()[1:])
    # the faithful fit reproduces the original to the PLY print precision (docs/oracle.md)
    assert float(fields["fit_median_mm"]) < 0.01
    assert float(fields["bump_median_mm"]) < 0.01
    assert float(fields["final_median_mm"]) < 0.01
    assert abs(float(fields["final_count_ratio"]) - 1) < 0.02
