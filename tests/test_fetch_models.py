"""fetch-models: local copy and download (from a loopback HTTP server), sha256-verified."""

from __future__ import annotations

import functools
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from extreme3d import Extreme3DError
from extreme3d.cli import main as cli_main
from extreme3d.prepare import fetch
from extreme3d.prepare.fetch import SFM_FILES, fetch_sfm, fetch_struct, sha256_of

SERVER_LIFETIME_S = 60.0


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def serve(monkeypatch):
    """serve(folder) -> base URL of a loopback HTTP server for that folder; every server is
    shut down at teardown, and after SERVER_LIFETIME_S at the latest."""
    servers = []
    # The download path is under test: a local copy (as `make test` exports) must not short-cut it.
    monkeypatch.delenv("EXTREME3D_SFM_DIR", raising=False)
    for var in ("no_proxy", "NO_PROXY"):  # never route loopback through a proxy
        monkeypatch.setenv(var, "127.0.0.1,localhost")

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        timer = threading.Timer(SERVER_LIFETIME_S, server.shutdown)
        timer.daemon = True
        timer.start()
        servers.append((server, timer))
        return f"http://127.0.0.1:{server.server_address[1]}/share/"

    yield start
    for server, timer in servers:
        timer.cancel()
        server.shutdown()
        server.server_close()


def test_digests_are_those_of_the_shared_v150_files(sfm_dir):
    for name, digest in SFM_FILES.items():
        assert sha256_of(sfm_dir / name) == digest, name


def test_download_verifies_and_installs(sfm_dir, tmp_path, serve, monkeypatch):
    root = tmp_path / "www"
    shutil.copytree(sfm_dir, root / "share")
    monkeypatch.setenv("EXTREME3D_SFM_URL", serve(root))
    monkeypatch.delenv("EXTREME3D_SFM_DIR", raising=False)
    dest = tmp_path / "dest"
    assert fetch_sfm(dest) == dest
    assert sorted(p.name for p in dest.iterdir()) == sorted(SFM_FILES)
    for name, digest in SFM_FILES.items():
        assert sha256_of(dest / name) == digest
    # already present and valid: nothing downloaded (server folder gone)
    shutil.rmtree(root)
    assert fetch_sfm(dest) == dest


def test_download_with_corrupted_file_fails_and_installs_nothing(sfm_dir, tmp_path, serve):
    root = tmp_path / "www"
    shutil.copytree(sfm_dir, root / "share")
    bad = root / "share" / "sfm_model_contours.json"
    bad.write_text(bad.read_text().replace("380", "381"))
    dest = tmp_path / "dest"
    with pytest.raises(Extreme3DError, match="sha256 mismatch for sfm_model_contours.json"):
        fetch_sfm(dest, url=serve(root))
    assert not any(p.name in SFM_FILES for p in dest.iterdir())
    assert not any(p.name.startswith(".fetch-") for p in dest.iterdir())


def test_download_missing_file_is_one_line_error(sfm_dir, tmp_path, serve):
    root = tmp_path / "www"
    shutil.copytree(sfm_dir, root / "share")
    (root / "share" / "readme.txt").unlink()
    with pytest.raises(Extreme3DError, match=r"readme\.txt: download failed \(HTTP 404\)"):
        fetch_sfm(tmp_path / "dest", url=serve(root))


def test_copy_from_local_folder_and_env(sfm_dir, tmp_path, monkeypatch):
    dest = fetch_sfm(tmp_path / "a", source_dir=sfm_dir)
    assert all(sha256_of(dest / n) == d for n, d in SFM_FILES.items())
    monkeypatch.setenv("EXTREME3D_SFM_DIR", str(sfm_dir))
    monkeypatch.setenv("EXTREME3D_SFM_URL", "http://127.0.0.1:9/unreachable/")
    dest = fetch_sfm(tmp_path / "b")
    assert all((dest / n).is_file() for n in SFM_FILES)
    # a wrong local file is refused too
    local = tmp_path / "local"
    shutil.copytree(sfm_dir, local)
    (local / "ibug_to_sfm.txt").write_text("# changed\n")
    with pytest.raises(Extreme3DError, match=r"local/ibug_to_sfm\.txt: sha256 mismatch"):
        fetch_sfm(tmp_path / "c", source_dir=local)


def test_fetch_struct_from_local_folder(shared, tmp_path):
    src = shared / "models" / "bfm"
    if not (src / "mod_struct_expr.mat").is_file():
        pytest.skip("mod_struct_expr.mat not in shared")
    dest = fetch_struct(tmp_path, source_dir=src)
    assert sha256_of(dest / "mod_struct_expr.mat") == fetch.STRUCT_FILES["mod_struct_expr.mat"]


def test_cli_fetch_models(sfm_dir, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("EXTREME3D_SFM_DIR", raising=False)
    dest = tmp_path / "sfm"
    assert cli_main(["fetch-models", "sfm", "--from", str(sfm_dir), "--dest", str(dest)]) == 0
    assert (dest / "sfm_shape_3448.bin").is_file()
    assert cli_main(["fetch-models", "sfm", "--from", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope: source folder not found" in err[0]
    # default destination: <model dir>/sfm
    monkeypatch.setenv("EXTREME3D_MODEL_DIR", str(tmp_path / "models"))
    assert cli_main(["fetch-models", "sfm", "--from", str(sfm_dir)]) == 0
    assert (tmp_path / "models" / "sfm" / "readme.txt").is_file()
