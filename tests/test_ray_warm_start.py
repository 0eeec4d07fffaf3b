"""The Ray engine starting its own local cluster: while ray.init runs, a process forked from the
driver does the first entries (the warm start); the files and bytes are still the local engine's,
and the cluster is stopped at the end. Skipped without Ray."""

from __future__ import annotations

from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
#: a Ray test that stalls fails after 5 min (seconds here) instead of holding up the suite
pytestmark = pytest.mark.timeout(300)

from test_ray_engine import _assert_same_outputs, _tree  # noqa: E402

from extreme3d.engines.ray_engine import RayOptions, run_ray_batch  # noqa: E402
from extreme3d.pipeline import BatchOptions, run_batch  # noqa: E402

PAPER = ["286264", "Jon-Hamm", "3808673138_5e653ffd1d_b"]


def test_own_cluster_with_warm_start_gives_the_local_engines_bytes(shared, sfm_h5, tmp_path):
    assert not ray.is_initialized()  # (the other Ray tests' cluster is stopped by now)
    paper = shared / "data" / "paper" / "imgs"
    listing = tmp_path / "list.txt"
    listing.write_text("".join(f"{paper / n}.png\n" for n in PAPER)
                       + f"{tmp_path / 'missing.png'}\n")

    def options(out: Path) -> BatchOptions:
        return BatchOptions(input_list=listing, output_dir=out, landmark_dir=paper,
                            model_path=sfm_h5, outputs=("final_frontal",), progress=False)

    local = run_batch(options(tmp_path / "local"), log=lambda _m: None)
    assert len(local.done) == 3
    summary = run_ray_batch(options(tmp_path / "ray"), RayOptions(num_cpus=2),
                            log=lambda _m: None)
    assert not ray.is_initialized()  # the engine stopped the cluster it started
    # ray.init takes seconds (Ray's own processes start); an entry takes well under one
    assert summary.options["ray_warm_entries"] >= 1
    assert len(summary.done) == 3 and [r.stage for r in summary.failed] == ["prepare"]
    assert [r.name for r in summary.images] == [r.name for r in local.images]
    _assert_same_outputs(_tree(tmp_path / "ray"), str(tmp_path / "ray"), tmp_path / "local")
    off = run_ray_batch(options(tmp_path / "cold"), RayOptions(num_cpus=2, warm_start=False),
                        log=lambda _m: None)
    assert "ray_warm_entries" not in off.options and len(off.done) == 3
    _assert_same_outputs(_tree(tmp_path / "cold"), str(tmp_path / "cold"), tmp_path / "local")
