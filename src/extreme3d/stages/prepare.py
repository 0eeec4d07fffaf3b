"""Stage 1, prepare: a photo's faces as 68 landmarks and the original's 500x500 crop.

Landmarks come from a ``.pts`` file (photo pixels), from arrays the caller gives, or from dlib
(detector on BGR, predictor on RGB; integer points stored float32, as the original's batch).
Nothing is written here (extreme3d.stages.outputs.write_prepared writes imgs/).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.crop import CropBox, crop_face


@dataclass(frozen=True)
class PreparedFace:
    """One face ready for the CNNs and the fit: `crop` 500x500 BGR uint8, `landmarks` (68,2)
    crop pixels (float64), `box` the crop's box and `original_landmarks` (68,2) in photo pixels,
    `image_size` (width, height) of the photo, `photo` the BGR photo itself (None once dropped,
    e.g. before a face is sent to a worker process)."""

    name: str
    crop: np.ndarray
    landmarks: np.ndarray
    box: CropBox
    original_landmarks: np.ndarray
    image_size: tuple[int, int]
    landmark_source: str  # "file", "given" or "dlib"
    num_faces: int  # faces found by dlib (the number of given sets otherwise)
    face_index: int = 0  # k of <name>_face<k> with all faces, left to right
    image_path: str | None = None
    photo: np.ndarray | None = None

    @property
    def scale(self) -> float:
        """Photo pixels -> crop pixels factor (500 / box height)."""
        return self.box.scale

    def without_photo(self) -> PreparedFace:
        """The same face without the photo array (cheaper to send to another process)."""
        return replace(self, photo=None)


def read_photo(path: str | os.PathLike[str]) -> np.ndarray:
    """A photo as BGR uint8 (errors name the file)."""
    from extreme3d.landmarks import read_image

    return read_image(Path(path))


def detected_landmarks(
    image: np.ndarray,
    source: str | os.PathLike[str],
    predictor: str | os.PathLike[str] | None = None,
    *,
    all_faces: bool = False,
    order: str = "detector",
) -> tuple[list[np.ndarray], int]:
    """dlib's 68 landmarks (photo pixels, float32) of the first face in `order` (dlib's by
    default, as the original), or of every face left to right with all_faces; and the number of
    faces. No face: Extreme3DError naming `source`. With all_faces the detector scans its whole
    pyramid (`detect_faces_full`): the coarse-level scan of large photos would not report a face
    smaller than its window beside a larger one."""
    from extreme3d.landmarks import detect_faces, detect_faces_full

    faces = (detect_faces_full(image, predictor, order="left_to_right") if all_faces
             else detect_faces(image, predictor, order=order))
    if not faces:
        raise Extreme3DError(f"{source}: no face detected")
    sets = [f.landmarks for f in faces]
    return (sets if all_faces else sets[:1]), len(faces)


def given_landmarks(items: object, *, all_faces: bool = False) -> list[np.ndarray]:
    """Landmark sets from the caller: one (68,2) array / .pts path in photo pixels, or a list of
    them; sorted left to right with all_faces (float64)."""
    from extreme3d.io.pts import read_pts

    many = isinstance(items, list | tuple) and not _is_points(items)
    sets = [read_pts(Path(x)) if isinstance(x, str | os.PathLike) else np.asarray(x, np.float64)
            for x in (items if many else [items])]  # type: ignore[union-attr]
    for s in sets:
        if s.shape != (68, 2):
            raise Extreme3DError(f"landmarks must be (68, 2) photo pixels, got {s.shape}")
    if all_faces:
        sets.sort(key=lambda s: (float(s[:, 0].min()), float(s[:, 1].min())))
    return sets


def _check_inside_image(landmarks: np.ndarray, width: int, height: int, what: str) -> None:
    """Refuses landmarks (finite) of which fewer than half lie inside the image: their crop
    would be (mostly) black padding."""
    lm = np.asarray(landmarks, np.float64).reshape(-1, 2)
    if not np.all(np.isfinite(lm)):
        raise Extreme3DError(f"{what}: landmarks are not finite")
    inside = (lm[:, 0] >= 0) & (lm[:, 0] < width) & (lm[:, 1] >= 0) & (lm[:, 1] < height)
    if 2 * int(inside.sum()) < len(lm):
        raise Extreme3DError(f"{what}: {len(lm) - int(inside.sum())} of the {len(lm)} landmarks "
                             f"lie outside the {width}x{height} image (wrong .pts file?)")
    # one wild point (e.g. 1e300) would make the crop box absurdly large
    far = ((lm[:, 0] < -4 * width) | (lm[:, 0] > 5 * width) | (lm[:, 1] < -4 * height)
           | (lm[:, 1] > 5 * height))
    if far.any():
        k = int(np.argmax(far))
        raise Extreme3DError(f"{what}: landmark {k + 1} ({lm[k, 0]:.6g}, {lm[k, 1]:.6g}) lies "
                             f"far outside the {width}x{height} image (wrong .pts file?)")


def crop_faces(
    image: np.ndarray,
    landmark_sets: Sequence[np.ndarray],
    name: str,
    *,
    source: str,
    num_faces: int | None = None,
    all_faces: bool = False,
    image_path: str | None = None,
    keep_photo: bool = True,
) -> list[PreparedFace]:
    """The original's crop of each landmark set (photo pixels), named `name`, or
    `<name>_face<k>` with all_faces."""
    faces = []
    for k, lms in enumerate(landmark_sets):
        _check_inside_image(lms, image.shape[1], image.shape[0], image_path or name)
        crop = crop_face(image, lms)
        faces.append(PreparedFace(
            name=f"{name}_face{k}" if all_faces else name, crop=crop.image,
            landmarks=np.asarray(crop.landmarks, np.float64), box=crop.box,
            original_landmarks=np.asarray(lms, np.float64),
            image_size=(int(image.shape[1]), int(image.shape[0])), landmark_source=source,
            num_faces=len(landmark_sets) if num_faces is None else num_faces, face_index=k,
            image_path=image_path, photo=image if keep_photo else None,
        ))
    return faces


def prepare_photo(
    path: str | os.PathLike[str],
    name: str,
    landmark_dir: str | os.PathLike[str] | None = None,
    *,
    all_faces: bool = False,
    predictor: str | os.PathLike[str] | None = None,
    order: str = "detector",
    keep_photo: bool = False,
) -> list[PreparedFace]:
    """The batch's prepare stage for one list entry: read the photo, landmarks from
    `<landmark_dir>/<name>.pts` (one face) or dlib, and the crops. Errors (unreadable image, no
    face, bad .pts) raise Extreme3DError naming the file."""
    from extreme3d.io.pts import read_pts

    src = Path(path)
    image = read_photo(src)
    if landmark_dir is not None:
        sets, source, count = [read_pts(Path(landmark_dir) / f"{name}.pts")], "file", 1
    else:
        sets, count = detected_landmarks(image, src, predictor, all_faces=all_faces,
                                         order=order)
        source = "dlib"
    return crop_faces(image, sets, name, source=source, num_faces=count, all_faces=all_faces,
                      image_path=str(src), keep_photo=keep_photo)


def _is_points(x: object) -> bool:
    """True when x is one (68,2) point set (array or nested list), not a list of sets."""
    try:
        return np.asarray(x, dtype=np.float64).shape == (68, 2)
    except (ValueError, TypeError):
        return False
