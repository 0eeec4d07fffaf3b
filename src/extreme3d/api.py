"""The Python API: ``Reconstructor(...).reconstruct(image)`` -> one ``FaceResult`` per face.

    import extreme3d
    rec = extreme3d.Reconstructor()                 # loads the model and CNNs once
    face = rec.reconstruct("photo.jpg")[0]          # first face (dlib's order, as the original)
    face.final.save("face.obj")                     # textured OBJ + MTL + PNG
    print(face.pose.yaw, face.pose.pitch, face.pose.roll)

A thin composition of the stages (extreme3d.stages: prepare, shape, face, outputs) for one
photo; ``extreme3d batch`` drives the same stages over a list, so both give the same meshes.
See docs/api.md.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.stages import prepare, shape
from extreme3d.stages.bump import cnn_bumps
from extreme3d.stages.face import FaceOptions, reconstruct_face
from extreme3d.stages.models import load_models
from extreme3d.stages.outputs import MESH_FORMATS as FORMATS
from extreme3d.stages.prepare import PreparedFace
from extreme3d.stages.result import (
    MAIN_MESHES,
    TEXTURED,
    TWINS,
    FaceResult,
    Pose,
    TexturedMesh,
    assemble_result,
    color_meshes,
)

__all__ = ["FORMATS", "MAIN_MESHES", "TEXTURED", "TWINS", "FaceResult", "Pose",
           "Reconstructor", "TexturedMesh", "assemble_result", "color_meshes"]


class Reconstructor:
    """Loads the morphable model (and the CNNs when present) once; ``reconstruct`` per photo.

    model: path of the .h5 model or a loaded MorphableModel (default: 3DMM_model/, the BFM when
    prepared, else the Surrey model); cnn_dir: folder of the user's CNN files (default ./CNN);
    device: torch device for the CNNs ("auto", "cpu", "cuda"); shape_source: "cnn" or
    "landmarks" (default: cnn when its files exist); bump_source: "cnn", "photo" or "flat"
    (default: cnn when its weights exist, else photo when available, else flat); symmetry: soft
    symmetry and occlusion handling (final mesh); fit_mode: "faithful" (the original's pose) or
    "best"; colors: "photo", "model" or "none" (default: model when the model has a texture,
    else photo); texture_size: side of the baked OBJ textures (px); mesh: the layout of the
    final mesh (None: clean for FaceResult.final and OBJ/GLB files, the original's in PLY files;
    "clean" or "original" everywhere); max_gap: registration gap in mm (None: the model's
    default, geometry.default_max_gap; 4 gives the original's meshes); occlusion: find
    occluders, de-occlude the bump map and treat them as occluded in soft symmetry and colours
    (False: the original's behaviour); trust_cnn_pickles: allow the CNN files'
    pickles (the original's shape CNN is a pickled module: loading it runs its code).
    """

    def __init__(
        self,
        model: Any = None,
        cnn_dir: str | os.PathLike[str] | None = None,
        device: str = "auto",
        bump_source: str | None = None,
        symmetry: bool = True,
        *,
        shape_source: str | None = None,
        fit_mode: str = "faithful",
        colors: str | None = None,
        texture_size: int = 1024,
        predictor: str | os.PathLike[str] | None = None,
        mesh: str | None = None,
        max_gap: float | None = None,
        occlusion: bool = True,
        trust_cnn_pickles: bool = False,
    ) -> None:
        from extreme3d.colors import resolve_color_mode

        t0 = time.perf_counter()
        if fit_mode not in ("faithful", "best"):
            raise Extreme3DError(f"fit_mode must be 'faithful' or 'best', got {fit_mode!r}")
        self.models = load_models(model, cnn_dir, device=device, shape_source=shape_source,
                                  bump_source=bump_source, trust_pickles=trust_cnn_pickles)
        self.options = FaceOptions(fit_mode, bool(symmetry),
                                   resolve_color_mode(colors, self.models.model),
                                   int(texture_size), mesh=mesh, max_gap=max_gap,
                                   occlusion=bool(occlusion))
        self.predictor = predictor
        self.device = device
        self.load_seconds = time.perf_counter() - t0

    # ------------------------------------------------------------------ loaded state

    @property
    def model(self) -> Any:
        """The morphable model (extreme3d.morphable.MorphableModel)."""
        return self.models.model

    @property
    def model_path(self) -> Path | None:
        """The model file, or None when a loaded model was given."""
        return self.models.model_path

    @property
    def cnn_dir(self) -> Path:
        """The folder of the user's CNN files."""
        return self.models.cnn_dir

    @property
    def shape_source(self) -> str:
        """'cnn' or 'landmarks'."""
        return self.models.shape_source

    @property
    def bump_source(self) -> str:
        """'cnn', 'photo' or 'flat'."""
        return self.models.bump_source

    @property
    def symmetry(self) -> bool:
        """Soft symmetry on."""
        return self.options.symmetry

    @property
    def fit_mode(self) -> str:
        """'faithful' or 'best'."""
        return self.options.fit_mode

    @property
    def colors(self) -> str:
        """Colour mode: 'photo', 'model' or 'none'."""
        return self.options.colors

    @property
    def texture_size(self) -> int:
        """Side of the baked OBJ/GLB textures (px)."""
        return self.options.texture_size

    # ------------------------------------------------------------------ public

    def reconstruct(
        self,
        image: np.ndarray | str | os.PathLike[str],
        landmarks: Any = None,
        all_faces: bool = False,
        *,
        name: str | None = None,
        outputs: tuple[str, ...] | None = None,
    ) -> list[FaceResult]:
        """Reconstructs the faces of a photo (path, or array: BGR as OpenCV reads it, or grey).

        landmarks: None (dlib finds the faces), one (68,2) array / .pts path in photo pixels, or
        a list of them (one per face). all_faces: every face, sorted left to right (names
        <name>_face<k>); False: the first face only (dlib's order, as the original).
        outputs: geometry meshes to compute (default: all six).
        """
        from extreme3d.landmarks import to_bgr8
        from extreme3d.naming import image_name

        path = None
        if isinstance(image, str | os.PathLike):
            path = Path(image)
            img = prepare.read_photo(path)
        else:
            img = to_bgr8(np.asarray(image))
        base = name or (image_name(path) if path is not None else "image")
        t0 = time.perf_counter()
        if landmarks is None:
            sets, count = prepare.detected_landmarks(img, path or "image", self.predictor,
                                                     all_faces=all_faces)
            source = "dlib"
        else:
            sets = prepare.given_landmarks(landmarks, all_faces=all_faces)
            sets, count, source = (sets if all_faces else sets[:1]), len(sets), "given"
        detect_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        faces = prepare.crop_faces(img, sets, base, source=source, num_faces=count,
                                   all_faces=all_faces,
                                   image_path=None if path is None else str(path))
        prepare_s = time.perf_counter() - t0
        return [self._reconstruct(f, outputs, {"detect": detect_s / len(faces),
                                               "prepare": prepare_s / len(faces)})
                for f in faces]

    def reconstruct_face(
        self,
        image_bgr: np.ndarray,
        landmarks: np.ndarray,
        *,
        name: str = "image",
        index: int = 0,
        outputs: tuple[str, ...] | None = None,
        image_path: str | None = None,
        landmark_source: str = "given",
    ) -> FaceResult:
        """One face from its 68 landmarks (photo pixels): crop, shape, bump, fit, geometry,
        colours."""
        from dataclasses import replace

        t0 = time.perf_counter()
        face = prepare.crop_faces(image_bgr, [np.asarray(landmarks, np.float64)], name,
                                  source=landmark_source, image_path=image_path)[0]
        face = replace(face, face_index=index)
        return self._reconstruct(face, outputs, {"prepare": time.perf_counter() - t0})

    # ------------------------------------------------------------------ stages

    def _reconstruct(self, face: PreparedFace, outputs: tuple[str, ...] | None,
                     timings: dict[str, float]) -> FaceResult:
        """Shape, bump CNN (when used), fit, geometry and result of one prepared face."""
        models = self.models
        identity = shape.identities(models.model, models.shape_net, [face])[0]
        if isinstance(identity, Exception):
            raise identity
        maps = (cnn_bumps(models.bump_net, [face.crop])[0] if models.bump_net is not None
                else None)
        res = reconstruct_face(models.model, face, identity, self.options,
                               bump_source=models.bump_source, maps=maps, meshes=outputs)
        res.timings = timings | res.timings
        return res
