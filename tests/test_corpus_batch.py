"""Generated regression corpus of hostile batch inputs (issue 17): one batch run (--jobs 1) over
~150 generated entries (truncated and corrupted images, headers declaring huge sizes, special
files, broken .pts files, list oddities, odd names); each entry is a test case asserting its
record in summary.json (status, stage, message naming the file, one line), and the run as a whole
asserts exit code 0, no traceback, every entry recorded, the good images' outputs, no temp file and
nothing written outside the output folder. No binary blobs: every input is built here."""

from __future__ import annotations

import json
import os
import random
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest

from extreme3d.testBatchModel import main as batch_main

GOOD = "286264"
FAST = ["--bump-source", "flat", "--outputs", "final_frontal", "--no-overlay", "--no-params",
        "--no-progress"]
NOT_IMAGE = r"not a readable image|empty|cannot read"


@dataclass
class Case:
    """One list entry: its name (summary.json), expected status and a regex its reason matches."""

    name: str
    expect: str  # "done" or a regex of the failure reason
    stage: str | None = "prepare"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def png_header(width: int, height: int) -> bytes:
    """A PNG with only its header chunk declaring width x height (no pixel data)."""
    ihdr = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IEND", b"")


def pts_text(points: np.ndarray | list, header: str = "version: 1\nn_points: 68\n{\n",
             footer: str = "}\n", sep: str = " ") -> str:
    """A .pts file of the points (as given, no check)."""
    return header + "".join(f"{x}{sep}{y}\n" for x, y in points) + footer


class Corpus:
    """Builds the inputs under root/in and root/lms and the list file."""

    def __init__(self, root: Path, png: Path, pts: Path) -> None:
        self.ins, self.lms = root / "in", root / "lms"
        self.ins.mkdir()
        self.lms.mkdir()
        self.png, self.pts_path = png.read_bytes(), pts.read_text()
        self.lines: list[bytes] = []
        self.cases: list[Case] = []
        self.list_extra = 0  # entries the list reader refuses (summary "failed", stage "list")

    def add(self, case: Case, image: bytes | None = None, pts: str | None = None,
            ext: str = ".png", stem: bytes | None = None) -> None:
        """Writes the image (when given) and the .pts (the good one when None) of an entry."""
        raw = stem if stem is not None else case.name.encode()
        path = os.path.join(os.fsencode(self.ins), raw + ext.encode())
        if image is not None:
            Path(os.fsdecode(path)).write_bytes(image)
        lm = os.path.join(os.fsencode(self.lms), raw + b".pts")
        if pts is not None or not os.path.lexists(lm):
            Path(os.fsdecode(lm)).write_text(self.pts_path if pts is None else pts)
        self.lines.append(path + b"\n")
        self.cases.append(case)


def build(root: Path, png: Path, pts: Path) -> Corpus:
    """Every generated entry (deterministic: seeded)."""
    rng = random.Random(1712)
    c = Corpus(root, png, pts)
    data = c.png
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    from extreme3d.io.pts import read_pts

    lm = read_pts(pts)
    # --- good images (the other images' outputs are checked)
    c.add(Case("good_a", "done", None), data)
    c.add(Case("good b with spaces", "done", None), data)
    c.add(Case("-good_dash", "done", None), data)
    c.add(Case("good_jpg_as_png", "done", None), cv2.imencode(".jpg", img)[1].tobytes())
    c.add(Case("good_pts_commas", "done", None), data, pts_text(lm, sep=","))
    # --- truncated images (every cut of the PNG) and corrupted bytes
    for k in range(24):
        c.add(Case(f"trunc_{k:02d}", NOT_IMAGE), data[: len(data) * k // 24])
    for k in range(12):  # a bit flip in the IDAT data: the CRC or zlib check refuses it
        b = bytearray(data)
        for _ in range(1 + k):
            b[rng.randrange(64, len(b) - 12)] ^= 1 << rng.randrange(8)
        c.add(Case(f"flip_{k:02d}", NOT_IMAGE), bytes(b))
    magics = {"png": b"\x89PNG\r\n\x1a\n", "jpg": b"\xff\xd8\xff\xe0", "gif": b"GIF89a",
              "bmp": b"BM", "tif": b"II*\x00", "webp": b"RIFF\x00\x00\x00\x00WEBP",
              "pgm": b"P5\n", "ppm": b"P6\n", "hdr": b"#?RADIANCE\n", "exr": b"v/1\x01",
              "jp2": b"\x00\x00\x00\x0cjP  \r\n\x87\n", "pfm": b"PF\n"}
    for fmt, magic in magics.items():
        c.add(Case(f"magic_{fmt}", NOT_IMAGE), magic + rng.randbytes(300), ext=f".{fmt}")
    for fmt in ("png", "jpg", "bmp", "tif", "webp"):
        c.add(Case(f"empty_{fmt}", NOT_IMAGE), b"", ext=f".{fmt}")
    c.add(Case("text_as_png", NOT_IMAGE), b"hello, I am not an image\n" * 20)
    c.add(Case("nul_bytes", NOT_IMAGE), b"\0" * 4096)
    # --- headers declaring sizes beyond the pixel limit (refused before decoding)
    for w, h in ((16000, 16000), (100000, 1001), (1, 200_000_000), (2**31 - 1, 2**31 - 1),
                 (65535, 65535), (10001, 10001)):
        c.add(Case(f"huge_{w}x{h}", r"image too large \("), png_header(w, h))
    c.add(Case("zero_size_header", NOT_IMAGE), png_header(0, 0))
    gif = b"GIF89a" + (65535).to_bytes(2, "little") * 2 + b"\x00\x00\x00;"
    c.add(Case("huge_gif", r"image too large \("), gif, ext=".gif")
    # --- images too small for the landmarks (every point outside)
    for side in (1, 2, 3, 10, 40):
        c.add(Case(f"tiny_{side}", r"landmarks lie outside|not a readable|too small"),
              cv2.imencode(".png", img[:side, :side])[1].tobytes())
    c.add(Case("strip_1x500", r"landmarks lie outside|too small"),
          cv2.imencode(".png", img[:1])[1].tobytes())
    # --- special files as the image
    os.mkfifo(c.ins / "sp_fifo.png")
    c.add(Case("sp_fifo", "is a FIFO"))
    (c.ins / "sp_folder.png").mkdir()
    c.add(Case("sp_folder", "is a folder"))
    for dev in ("null", "zero", "urandom"):
        os.symlink(f"/dev/{dev}", c.ins / f"sp_dev_{dev}.png")
        c.add(Case(f"sp_dev_{dev}", "character device"))
    os.symlink(c.ins / "nowhere.png", c.ins / "sp_dangling.png")
    c.add(Case("sp_dangling", "not found"))
    os.symlink(c.ins / "sp_loop_b.png", c.ins / "sp_loop.png")
    os.symlink(c.ins / "sp_loop.png", c.ins / "sp_loop_b.png")
    c.add(Case("sp_loop", r"cannot read|not found|symbolic links"))
    c.add(Case("sp_missing", "not found"))
    # --- broken .pts files (the image is good)
    bad_pts: dict[str, tuple[str, str]] = {
        "pts_empty": ("", r"pts"),
        "pts_garbage": ("hello\x00world\n", r"pts"),
        "pts_binary": (bytes(range(256)).decode("latin-1") * 4, r"pts"),
        "pts_67": (pts_text(lm[:67]), r"pts"),
        "pts_69": (pts_text(np.vstack([lm, lm[:1]])), r"pts"),
        "pts_0": (pts_text([]), r"pts"),
        "pts_1000": (pts_text(np.tile(lm, (15, 1))[:1000]), r"pts"),
        "pts_one_column": ("version: 1\nn_points: 68\n{\n" + "".join(f"{x}\n" for x, _ in lm)
                           + "}\n", r"pts"),
        "pts_three_columns": ("version: 1\nn_points: 68\n{\n"
                              + "".join(f"{x} {y} 1\n" for x, y in lm) + "}\n", r"pts"),
        "pts_words": (pts_text([("a", "b")] * 68), r"pts"),
        "pts_hex": (pts_text([("0x10", "0x20")] * 68), r"pts"),
        "pts_1e999": (pts_text([("1e999", "5")] * 68), r"pts"),
        "pts_neg_1e999": (pts_text([("-1e999", "5")] * 68), r"pts"),
        "pts_long_line": ("version: 1\nn_points: 68\n{\n" + "7" * 200_000 + " 1\n}\n", r"pts"),
        "pts_n_points_huge": (pts_text(lm, header="version: 1\nn_points: 99999999999\n{\n"),
                              r"pts"),
        "pts_n_points_neg": (pts_text(lm, header="version: 1\nn_points: -5\n{\n"), r"pts"),
    }
    for i in (0, 17, 33, 67):
        for special in ("nan", "inf", "-inf", "1e300", "1e39"):
            pts = lm.astype(object).copy()
            pts[i, i % 2] = special
            bad_pts[f"pts_{special}_at_{i}"] = (pts_text(pts), r"pts|landmark")
    for name, (text, message) in bad_pts.items():
        c.add(Case(name, message), data, text)
    for name, message in (("pts_fifo", "is a FIFO"), ("pts_dir", "is a folder"),
                          ("pts_dev", "character device"), ("pts_missing", "not found"),
                          ("pts_dangling", "not found")):
        (c.ins / f"{name}.png").write_bytes(data)
        target = c.lms / f"{name}.pts"
        if name == "pts_fifo":
            os.mkfifo(target)
        elif name == "pts_dir":
            target.mkdir()
        elif name == "pts_dev":
            os.symlink("/dev/zero", target)
        elif name == "pts_dangling":
            os.symlink(c.lms / "nowhere.pts", target)
        c.lines.append(os.fsencode(c.ins / f"{name}.png") + b"\n")
        c.cases.append(Case(name, message))
    # --- names colliding with an earlier image's files
    for suffix in ("_detect",):
        c.add(Case(f"good_a{suffix}", "collides with 'good_a'"), data)
    # --- list oddities (refused by the list reader: recorded with stage "list")
    c.lines += [b"\n", b"# a comment\n", b"   \n", b"\t\n"]
    odd = [b"relative/none.png", b"\xff\xfe.png", b"x" * 5000 + b".png",
           os.fsencode(c.ins) + b"/nul\x00byte.png", b"/", b".", b"..",
           os.fsencode(c.ins) + b"/", b"~/nothing_here.png", b"$(touch pwned).png"]
    for line in odd:
        c.lines.append(line + b"\n")
    c.list_extra = len(odd)
    return c


@pytest.fixture(scope="module")
def corpus_run(shared, sfm_h5, tmp_path_factory):
    """The generated batch, run once: (corpus, summary, stdout+stderr, rc, root, files before)."""
    paper = shared / "data" / "paper" / "imgs"
    root = tmp_path_factory.mktemp("corpus")
    c = build(root, paper / f"{GOOD}.png", paper / f"{GOOD}.pts")
    listing = root / "list.txt"
    listing.write_bytes(b"".join(c.lines))
    out = root / "out"
    before = {p for p in root.rglob("*")}
    import contextlib
    import io

    err, so = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(root)  # a relative path in the list must not reach anything outside
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(so):
            rc = batch_main([str(listing), str(out), str(c.lms), "--model", str(sfm_h5),
                             "--cnn-dir", str(root / "no_cnn"), "--jobs", "1", *FAST])
    finally:
        os.chdir(cwd)
    summary = json.loads((out / "summary.json").read_text())
    return c, summary, err.getvalue() + so.getvalue(), rc, root, before


@pytest.mark.slow
def test_corpus_run_as_a_whole(corpus_run):
    c, summary, text, rc, root, before = corpus_run
    out = root / "out"
    assert rc == 0
    assert "Traceback" not in text
    after = {p for p in root.rglob("*") if out not in p.parents and p != out}
    assert after == before, "files written outside the output folder"
    assert not list(out.rglob("*.tmp"))
    assert summary["images_total"] == len(c.cases) + c.list_extra
    names = {k.name for k in c.cases}
    odd = [r for r in summary["images"] if r["name"] not in names]  # list lines read as entries
    n_list = len([f for f in summary["failed"] if f["stage"] == "list"])
    assert n_list + len(odd) == c.list_extra
    for r in odd:
        assert r["status"] == "failed" and "\n" not in r["reason"], r
    assert not (root / "pwned").exists()
    done = [r["name"] for r in summary["images"] if r["status"] == "done"]
    assert sorted(done) == sorted(k.name for k in c.cases if k.expect == "done")


def _case_ids() -> list[str]:
    """The entry names (built in a scratch folder only to list them)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        img = np.full((500, 500, 3), 128, np.uint8)
        cv2.imwrite(str(src / "p.png"), img)
        (src / "p.pts").write_text(pts_text(np.full((68, 2), 250.0)))
        root = Path(tmp) / "r"
        root.mkdir()
        return [k.name for k in build(root, src / "p.png", src / "p.pts").cases]


CASE_NAMES = _case_ids()


@pytest.mark.slow
@pytest.mark.parametrize("name", CASE_NAMES)
def test_corpus_entry(corpus_run, name):
    c, summary, text, _rc, root, _before = corpus_run
    case = next(k for k in c.cases if k.name == name)
    recs = [r for r in summary["images"] if r["name"] == name]
    assert len(recs) == 1, f"{name}: {len(recs)} records"
    rec = recs[0]
    out = root / "out"
    if case.expect == "done":
        assert rec["status"] == "done", rec["reason"]
        assert (out / "3D" / f"{name}_final_frontal.ply").stat().st_size > 0
        assert (out / "imgs" / f"{name}.png").exists()
        return
    assert rec["status"] == "failed"
    reason = rec["reason"] or ""
    assert "\n" not in reason
    assert re.search(case.expect, reason), (name, rec["stage"], reason)
    if case.stage is not None:
        assert rec["stage"] == case.stage, (name, rec["stage"], reason)
    assert name in reason or rec["path"] in reason or os.fsdecode(name) in reason, reason
    assert f"{rec['path']}" in text or reason in text  # reported on the console too
    assert not (out / "3D" / f"{name}_final_frontal.ply").exists()
