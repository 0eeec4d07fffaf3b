"""PLY writer (the original's two ASCII layouts), reader (ASCII + binary), Mesh, atomic writes."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from extreme3d import Extreme3DError
from extreme3d.io.atomic import atomic_write
from extreme3d.io.ply import format_ply, format_ply_reference, read_ply, write_ply
from extreme3d.mesh import Mesh

VERTS = np.array([[1.5, -2e-5, 1234567.0], [0.1, 100000.0, -0.0], [3.0, 4.0, 5.25]], np.float32)
FACES = np.array([[0, 1, 2], [2, 1, 0]], np.int32)

HEADER_XYZ = (
    "ply\nformat ascii 1.0\nelement vertex 3\n"
    "property float x\nproperty float y\nproperty float z\n"
)
HEADER_FACES = "element face 2\nproperty list uchar int vertex_indices\nend_header\n"
HEADER_RGB = "property uchar red\nproperty uchar green\nproperty uchar blue\n"


def test_cpp_style_exact_text(tmp_path):
    # C++ ostream float printing is %g (6 significant digits); face lines end in "c \n".
    path = write_ply(tmp_path / "m.ply", VERTS, FACES)
    expected = (
        HEADER_XYZ + HEADER_FACES
        + "1.5 -2e-05 1.23457e+06\n"
        + "0.1 100000 -0\n"
        + "3 4 5.25\n"
        + "3 0 1 2 \n3 2 1 0 \n"
    )
    assert path.read_bytes() == expected.encode()


def test_python_style_exact_text_with_truncated_colours(tmp_path):
    colors = np.array([[254.9, -3.0, 300.0], [0.999, 1.0, 128.5], [10, 20, 30]])
    s = np.array([[1.23456, -0.00004, 2.0], [100.5, 0, 0], [1, 2, 3]], np.float64)
    path = write_ply(tmp_path / "c.ply", s, FACES, colors, style="python")
    expected = (
        HEADER_XYZ + HEADER_RGB + HEADER_FACES
        + "1.2346 -0.0000 2.0000 254 0 255\n"
        + "100.5000 0.0000 0.0000 0 1 128\n"
        + "1.0000 2.0000 3.0000 10 20 30\n"
        + "3 0 1 2\n3 2 1 0\n"
    )
    assert path.read_text() == expected


def test_no_faces_means_no_face_element():
    text = format_ply(VERTS, None)
    assert "element face" not in text
    assert text.endswith("end_header\n1.5 -2e-05 1.23457e+06\n0.1 100000 -0\n3 4 5.25\n")


def test_ascii_round_trip_and_mesh_save(tmp_path):
    rng = np.random.default_rng(0)
    v = (rng.random((50, 3)) * 200 - 100).astype(np.float32)
    f = rng.integers(0, 50, (80, 3)).astype(np.int32)
    c = rng.integers(0, 256, (50, 3)).astype(np.uint8)
    out = Mesh(v, f, c).save(tmp_path / "r.ply")
    back = read_ply(out)
    np.testing.assert_allclose(back.vertices, v, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(back.faces, f)
    np.testing.assert_array_equal(back.colors, c)
    assert back.vertices.dtype == np.float32 and back.faces.dtype == np.int32
    assert Mesh.load(out).num_faces == 80


def test_binary_little_endian_and_polygons(tmp_path):
    header = (
        b"ply\nformat binary_little_endian 1.0\ncomment test\nelement vertex 4\n"
        b"property float x\nproperty float y\nproperty float z\nproperty uchar red\n"
        b"property uchar green\nproperty uchar blue\nelement face 1\n"
        b"property list uchar int vertex_indices\nend_header\n"
    )
    body = b"".join(struct.pack("<fffBBB", i, 2 * i, -i, i, 10 + i, 200) for i in range(4))
    body += struct.pack("<B4i", 4, 0, 1, 2, 3)  # a quad -> two fan triangles
    (tmp_path / "b.ply").write_bytes(header + body)
    mesh = read_ply(tmp_path / "b.ply")
    np.testing.assert_array_equal(mesh.vertices[:, 1], [0, 2, 4, 6])
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [0, 2, 3]])
    np.testing.assert_array_equal(mesh.colors[:, 1], [10, 11, 12, 13])


def test_binary_triangles_fast_path(tmp_path):
    v = np.arange(12, dtype="<f4").reshape(4, 3)
    header = (
        b"ply\nformat binary_little_endian 1.0\nelement vertex 4\nproperty float x\n"
        b"property float y\nproperty float z\nelement face 2\n"
        b"property list uchar int vertex_indices\nend_header\n"
    )
    faces = np.array([(3, (0, 1, 2)), (3, (1, 2, 3))], dtype=[("n", "u1"), ("i", "<i4", (3,))])
    (tmp_path / "t.ply").write_bytes(header + v.tobytes() + faces.tobytes())
    mesh = read_ply(tmp_path / "t.ply")
    np.testing.assert_array_equal(mesh.vertices, v)
    np.testing.assert_array_equal(mesh.faces, [[0, 1, 2], [1, 2, 3]])
    assert mesh.colors is None


@pytest.mark.parametrize(
    "content",
    [b"not a ply\n", b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\n",
     b"ply\nformat ascii 1.0\nelement vertex 2\nproperty float x\nproperty float y\n"
     b"property float z\nend_header\n1 2 3\n"],
)
def test_malformed_ply_names_the_file(tmp_path, content):
    path = tmp_path / "bad.ply"
    path.write_bytes(content)
    with pytest.raises(Extreme3DError, match="bad.ply"):
        read_ply(path)


def test_face_index_out_of_range_is_rejected(tmp_path):
    path = tmp_path / "oob.ply"
    path.write_text(format_ply(VERTS, np.array([[0, 1, 3]])))
    with pytest.raises(Extreme3DError, match="oob.ply.*out of range"):
        read_ply(path)


def test_mesh_contract_dtypes_and_unknown_extension(tmp_path):
    m = Mesh(VERTS.astype(np.float64), FACES.astype(np.int64), np.full((3, 3), 12.7))
    assert m.vertices.dtype == np.float32 and m.faces.dtype == np.int32
    assert m.colors.dtype == np.uint8 and m.colors[0, 0] == 12  # truncated, not rounded
    with pytest.raises(ValueError):
        Mesh(VERTS, np.array([[0, 1, 5]]))
    with pytest.raises(Extreme3DError, match=r"m\.xyz.*unsupported"):
        m.save(tmp_path / "m.xyz")


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    target = tmp_path / "keep.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_write(target) as handle:
        handle.write("partial")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
    with atomic_write(target) as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def _awkward_values(rng: np.random.Generator, n: int) -> np.ndarray:
    """Values that stress %g / %.4f: all magnitudes, signs, exact decimal ties, zeros, inf, nan."""
    parts = [
        np.array([0.0, -0.0, 1e-45, 3.4e38, -3.4e38, 0.5, 2.5, 999999.5, 9999995.0, 123456.5,
                  1234565.0, 5e-5, -5e-5, 1e16, 123.45675, np.inf, -np.inf, np.nan]),
        rng.normal(size=n) * 80, rng.normal(size=n) * 1e-3, rng.normal(size=n) * 1e-7,
        rng.normal(size=n) * 1e6, rng.normal(size=n) * 1e12, np.round(rng.normal(size=n) * 1000),
        rng.integers(-10**6, 10**6, n) / 8.0, rng.integers(-10**7, 10**7, n) / 1024.0,
    ]
    x = np.concatenate(parts)
    return x[: len(x) // 3 * 3].reshape(-1, 3)


@pytest.mark.parametrize("style", ["cpp", "python"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_writer_matches_percent_formatting(style, dtype):
    # The C++ formatter must give the bytes of Python's % operator (printf semantics).
    rng = np.random.default_rng(7)
    v = _awkward_values(rng, 4000).astype(dtype)
    colors = rng.uniform(-10, 270, v.shape)
    faces = rng.integers(0, 2**31 - 1, (3000, 3))
    for c, f in ((None, None), (colors, faces)):
        fast = format_ply(v, f, c, style)
        assert fast == format_ply_reference(v, f, c, style)
        assert "nan" in fast and "inf" in fast


def test_g6_fast_path_edges_match_printf():
    """The C++ "%g" fast path (magnitudes 1e-4..1e6, one scaling by a power of ten) prints what
    printf does at its edges: powers of ten and their neighbouring doubles, values rounding up
    to the next power, decimal-looking values of 7-8 digits (near-ties), exact ties (dyadic
    values halfway between 6-digit decimals) and every magnitude it hands back to to_chars."""
    from extreme3d import _core

    rng = np.random.default_rng(11)
    vals = [0.0, -0.0, 9.999995, 9.9999949, 99999.95, 999999.49, 999999.5, 123456.5, 1e-4,
            9.99995e-5, 0.00099999949, 0.000999995]
    for e in range(-6, 8):
        p10 = 10.0**e
        vals += [p10, -p10, np.nextafter(p10, 0.0), np.nextafter(p10, np.inf)]
        vals += list(np.round(rng.uniform(1, 10, 3000) * p10, 7 - e if e < 7 else 0))
        vals += list(rng.uniform(0.9999990, 1.0000010, 500) * p10)
    vals += list(rng.integers(-10**6, 10**6, 5000) + 0.5)  # exact ties at 6 digits
    vals += list(rng.integers(1, 2**20, 20000) / 2.0 ** rng.integers(0, 24, 20000))
    v = np.asarray(vals, np.float64)
    v = v[: len(v) // 3 * 3].reshape(-1, 3)
    text = _core.format_ply_body(v, None, None, "cpp").decode().split()
    assert text == [f"{x:g}" for x in v.ravel()]  # printf's %g


def test_png_bytes_remembers_images_by_content(tmp_path):
    import cv2

    from extreme3d.io import atomic
    from extreme3d.io.atomic import atomic_write_png, png_bytes

    rng = np.random.default_rng(3)
    big = rng.integers(0, 256, (300, 300, 3), np.uint8)
    fresh = cv2.imencode(".png", big[:, :, ::-1])[1].tobytes()
    # a view and a copy of the same pixels: the same bytes as a fresh encoding, once encoded
    assert png_bytes(big[:, :, ::-1], remember=True) == fresh
    key_count = len(atomic._png_memo)
    assert png_bytes(np.ascontiguousarray(big[:, :, ::-1]), remember=True) == fresh
    assert len(atomic._png_memo) == key_count
    # one pixel changed, or the same bytes in another shape: encoded anew
    other = big.copy()
    other[150, 150, 0] ^= 1
    assert png_bytes(other[:, :, ::-1], remember=True) == cv2.imencode(
        ".png", other[:, :, ::-1])[1].tobytes()
    flat = big.reshape(300 * 3, 300)
    assert png_bytes(flat, remember=True) == cv2.imencode(".png", flat)[1].tobytes()
    assert len(atomic._png_memo) <= atomic.PNG_MEMO_SIZE
    # without remember nothing is kept
    before = dict(atomic._png_memo)
    assert png_bytes(big[::2]) == cv2.imencode(".png", big[::2])[1].tobytes()
    assert dict(atomic._png_memo) == before
    atomic_write_png(tmp_path / "a.png", big, remember=True)
    assert np.array_equal(cv2.imread(str(tmp_path / "a.png")), big)
