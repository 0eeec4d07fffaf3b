"""extreme3d.engines.sink: commits of staged files into a local folder and fsspec's memory file
system, done markers, and what a worker's pickled sink points at."""

from __future__ import annotations

import pickle

import pytest

from extreme3d.engines.sink import DONE_DIR, STAGING_DIR, Sink, staged_files


@pytest.mark.parametrize("where", ["local", "memory"])
def test_commit_markers_and_pickle(tmp_path, where):
    url = str(tmp_path / "out") if where == "local" else f"memory://sink-test-{tmp_path.name}/out"
    sink = Sink(url)
    assert sink.shared == (where == "local")
    with sink.staging() as staging:
        (staging / "imgs").mkdir()
        (staging / "imgs" / "a.png").write_bytes(b"png")
        (staging / "imgs" / ".a.png.123.tmp").write_bytes(b"half")  # an unfinished write
        (staging / "summary.txt").write_text("s")
        rels = staged_files(staging)
        assert rels == ["imgs/a.png", "summary.txt"]
        sink.commit(staging, rels)
    assert not staging.exists()
    assert sink.read_bytes("imgs/a.png") == b"png" and sink.exists("summary.txt")
    assert sink.path("imgs/a.png").endswith("/out/imgs/a.png")
    assert sink.done_names() == set()
    sink.write_marker("a", [{"name": "a", "status": "done"}])
    again = pickle.loads(pickle.dumps(sink))  # as a worker gets it
    assert again.done_names() == {"a"} and again.read_marker("a") == [{"name": "a",
                                                                       "status": "done"}]
    listed = [str(p) for p in sink.fs.find(sink.root)]
    assert not [p for p in listed if p.endswith(".tmp")]
    assert any(p.endswith(f"{DONE_DIR}/a.json") for p in listed)
    sink.clean_staging()
    if where == "local":
        assert not (tmp_path / "out" / STAGING_DIR).exists()
