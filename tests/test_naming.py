"""Image names (PIPELINE.md section 0) and input-list parsing."""

from __future__ import annotations

import pytest

from extreme3d import Extreme3DError
from extreme3d.naming import image_name, parse_input_lines, read_input, read_input_list


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("x.jpg.jpg", "x"),  # as the paper data (nsa-director-...jpg.jpg)
        ("Mr.Smith.jpg", "Mr.Smith"),  # the C++ original would say "Mr"
        ("/a/b/photo.PNG", "photo"),
        ("dir/archive.tar.png", "archive.tar"),  # second extension is not an image one
        ("x.jpeg.JPG", "x"),
        ("noext", "noext"),
        (".hidden.png", ".hidden"),
        ("C:\\photos\\win.bmp", "win"),  # backslash separates, as ntpath in the original
        ("my photo 1.jpg", "my photo 1"),
    ],
)
def test_image_name(path, name):
    assert image_name(path) == name


def test_empty_name_is_an_error():
    with pytest.raises(Extreme3DError, match="cannot derive"):
        image_name("/some/dir/")


def test_list_lines_crlf_blank_short_spaces_duplicates():
    lines = [
        "/data/a b/c d.jpg\r\n",
        "\r\n",
        "   \n",
        "# a comment\n",
        "x.jp\n",
        "/q/x.jpg.jpg\n",
        "/r/x.png",  # same name 'x' as the line before: error for this later line
        "  /s/y.png  \r\n",
    ]
    parsed = parse_input_lines(lines, "list.txt")
    assert [(str(e.path), e.name, e.line) for e in parsed.entries] == [
        ("/data/a b/c d.jpg", "c d", 1),
        ("/q/x.jpg.jpg", "x", 6),
        ("/s/y.png", "y", 8),
    ]
    assert [p.line for p in parsed.problems] == [5, 7]
    assert "too short" in parsed.problems[0].message
    dup = parsed.problems[1].message
    assert dup.startswith("/r/x.png: image name 'x' already used by line 6 of list.txt")


def test_read_input_list_relative_to_list_folder(tmp_path, monkeypatch):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "face one.jpg").write_bytes(b"")
    lst = tmp_path / "list.txt"
    lst.write_bytes(b"\xef\xbb\xbfimgs/face one.jpg\r\n/abs/two.png\r\n")  # BOM + CRLF
    monkeypatch.chdir("/")
    parsed = read_input_list(lst)
    assert parsed.entries[0].path == tmp_path / "imgs" / "face one.jpg"
    assert parsed.entries[0].name == "face one"
    assert str(parsed.entries[1].path) == "/abs/two.png" and not parsed.problems


def test_missing_list(tmp_path):
    with pytest.raises(Extreme3DError, match=r"nolist\.txt: input list not found"):
        read_input_list(tmp_path / "nolist.txt")


def test_read_input_folder_glob_and_list(tmp_path):
    for name in ("b.png", "a.JPG", "notes.txt", "c.jpg.jpg"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.png").write_bytes(b"x")
    folder = read_input(tmp_path)
    assert [e.name for e in folder.entries] == ["a", "b", "c"]  # images only, sorted, flat
    assert [e.path for e in folder.entries] == [tmp_path / n for n in ("a.JPG", "b.png",
                                                                       "c.jpg.jpg")]
    pattern = read_input(str(tmp_path / "*.png"))
    assert [e.name for e in pattern.entries] == ["b"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"{tmp_path / 'b.png'}\n")
    assert [e.name for e in read_input(listing).entries] == ["b"]
    (tmp_path / "x.png.png").write_bytes(b"x")
    (tmp_path / "x.png").write_bytes(b"x")
    dup = read_input(tmp_path)  # two files named x: the later one is reported
    assert [e.name for e in dup.entries].count("x") == 1 and len(dup.problems) == 1
    with pytest.raises(Extreme3DError, match="nothing.txt: input list not found"):
        read_input(tmp_path / "nothing.txt")
