"""Obtain model files: the open Surrey Face Model (eos v1.5.0 `share/`) and the original's
BFM trimming structure mod_struct_expr.mat, sha256-verified.

Sources, in order: `--from DIR` (or env EXTREME3D_SFM_DIR), a local folder holding the files;
otherwise a download from the eos repository at tag v1.5.0 (base URL overridable with env
EXTREME3D_SFM_URL). Every file is checked against the digest of the v1.5.0 release before it
is moved into place; a mismatch is an error and leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from extreme3d import Extreme3DError
from extreme3d.paths import model_dir

#: Where the files are downloaded from (eos v1.5.0, folder share/).
DEFAULT_SFM_URL = "https://raw.githubusercontent.com/patrikhuber/eos/v1.5.0/share/"

#: sha256 of each file of eos v1.5.0 share/ that extreme3d uses (the converter's inputs and the
#: model's readme with its licence note).
SFM_FILES: dict[str, str] = {
    "sfm_shape_3448.bin": "43750338ae533e7fb981e924b6f67ebde3d292f15ec4fc886ae5af14308ad980",
    "expression_blendshapes_3448.bin":
        "a77c81712fc5e8b08a1be4cd2824d51514e5bde6578109ae5240dfb3489efd43",
    "ibug_to_sfm.txt": "810810c457184526c7d54305ecbc5da764e2431b5e66025d921a7d424aebfac9",
    "sfm_model_contours.json": "c9e69bfa995ab19ac6b27abb07729eb0520a00bb192be12426ca6bce76f3fded",
    "readme.txt": "57742d6348d04faf051e0066d93df7f2499d874068f8aab89fb8bb051cd02105",
}

#: The original project's BFM trimming structure (commit 457a99a, 3DMM_model/).
DEFAULT_STRUCT_URL = (
    "https://raw.githubusercontent.com/anhttran/extreme_3d_faces/"
    "457a99a07a5dd0b5e2ed72c6385ae9ab33c86467/3DMM_model/"
)
STRUCT_FILES: dict[str, str] = {
    "mod_struct_expr.mat": "f0356fb36a2a9b58ee60ce417b5502b60eb4df17f15a687649df6ee39198b82a",
}

#: Seconds before a stalled download is abandoned.
TIMEOUT_S = 60.0


def default_sfm_dir() -> Path:
    """Default destination of the Surrey files: <model_dir>/sfm (3DMM_model/sfm)."""
    return model_dir() / "sfm"


def sha256_of(path: Path) -> str:
    """Hex sha256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify(path: Path, name: str, want: str, origin: str) -> None:
    """Raises when path does not have the expected digest."""
    got = sha256_of(path)
    if got != want:
        raise Extreme3DError(
            f"{origin}: sha256 mismatch for {name} (got {got[:16]}..., expected "
            f"{want[:16]}...): not the expected release file"
        )


def _download(url: str, dest: Path) -> None:
    """Downloads url into dest, raising a one-line error on any network failure."""
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out)
    except urllib.error.HTTPError as exc:
        raise Extreme3DError(f"{url}: download failed (HTTP {exc.code})") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Extreme3DError(f"{url}: download failed ({reason})") from exc


def fetch_files(
    files: dict[str, str], target: Path, source_dir: str | Path | None, base_url: str
) -> Path:
    """Copies (from source_dir) or downloads (from base_url) each file of `files` (name ->
    sha256) into target, verified before it is moved into place; files already there with the
    right digest are kept. Returns target."""
    if source_dir is not None and not Path(source_dir).is_dir():
        raise Extreme3DError(f"{source_dir}: source folder not found")
    if not base_url.endswith("/"):
        base_url += "/"
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target) as tmp:
        staged: list[tuple[Path, Path]] = []
        for name, want in files.items():
            final = target / name
            if final.is_file() and sha256_of(final) == want:
                continue
            part = Path(tmp) / name
            if source_dir is not None:
                origin = Path(source_dir) / name
                if not origin.is_file():
                    raise Extreme3DError(f"{origin}: file not found")
                shutil.copyfile(origin, part)
                _verify(part, name, want, str(origin))
            else:
                _download(base_url + name, part)
                _verify(part, name, want, base_url + name)
            staged.append((part, final))
        for part, final in staged:
            part.replace(final)
    return target


def fetch_sfm(
    dest: str | Path | None = None, source_dir: str | Path | None = None, url: str | None = None
) -> Path:
    """Puts the verified Surrey files into dest (default 3DMM_model/sfm); returns dest.

    source_dir (else env EXTREME3D_SFM_DIR): copy from that folder; else download from url
    (else env EXTREME3D_SFM_URL, else DEFAULT_SFM_URL).
    """
    target = Path(dest) if dest is not None else default_sfm_dir()
    src = source_dir if source_dir is not None else os.environ.get("EXTREME3D_SFM_DIR")
    base = url or os.environ.get("EXTREME3D_SFM_URL") or DEFAULT_SFM_URL
    return fetch_files(SFM_FILES, target, src, base)


def fetch_struct(
    dest: str | Path | None = None, source_dir: str | Path | None = None, url: str | None = None
) -> Path:
    """Puts the verified mod_struct_expr.mat into dest (default 3DMM_model); returns dest.

    source_dir: copy from that folder; else download from url (else env
    EXTREME3D_STRUCT_URL, else DEFAULT_STRUCT_URL: the original project's repository).
    """
    target = Path(dest) if dest is not None else model_dir()
    base = url or os.environ.get("EXTREME3D_STRUCT_URL") or DEFAULT_STRUCT_URL
    return fetch_files(STRUCT_FILES, target, source_dir, base)
