"""The Python API: ``Reconstructor(...).reconstruct(image)`` -> one ``FaceResult`` per face.

    import extreme3d
    rec = extreme3d.Reconstructor()                 # loads the model and CNNs once
    face = rec.reconstruct("photo.jpg")[0]          # first face (dlib's order, as the original)
    face.final.save("face.obj")                     # textured OBJ + MTL + PNG
    print(face.pose.yaw, face.pose.pitch, face.pose.roll)

The stages are the batch pipeline's (extreme3d.pipeline: source choice, model loading, the
foundation mask of the flat bump source, the photo bump source; extreme3d.fitting;
extreme3d.geometry), so the API and ``extreme3d batch`` give the same meshes. See docs/api.md.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from extreme3d import Extreme3DError
from extreme3d.crop import CROP_SIZE, CropBox
from extreme3d.io.atomic import atomic_write_png, atomic_write_text
from extreme3d.mesh import Mesh

#: Short names of the three main meshes (all frontal, model coordinates).
MAIN_MESHES = {"foundation": "foundation_frontal", "with_bump": "withBump_frontal",
               "final": "final_frontal"}
#: Meshes that get a baked photo texture in OBJ/GLB outputs (aligned ones reuse their frontal
#: twin's texture: same vertices in the same order).
TEXTURED = ("final_frontal", "foundation_frontal")
TWINS = {"foundation_aligned": "foundation_frontal", "withBump_aligned": "withBump_frontal"}
FORMATS = ("ply", "obj", "glb")


@dataclass(eq=False)
class TexturedMesh(Mesh):
    """A Mesh with optional per-vertex uv (V,2) (OBJ convention, v up) and an RGB texture; save()
    writes OBJ+MTL+PNG / GLB with the texture, PLY with the per-vertex colours."""

    uv: np.ndarray | None = None
    texture: np.ndarray | None = None

    def save(self, path: str | os.PathLike[str], **options: Any) -> Path:
        """Writes the mesh, format by extension (.ply, .obj with .mtl/.png, .glb)."""
        if Path(path).suffix.lower() in (".obj", ".glb") and self.texture is not None:
            options.setdefault("uv", self.uv)
            options.setdefault("texture", self.texture)
        return super().save(path, **options)


@dataclass(frozen=True)
class Pose:
    """The fitted camera of a face.

    Model -> camera: ``X_c = R X + t`` (R = ``matrix``, Rodrigues ``rvec`` in rad, ``tvec`` in mm).
    Model axes: x to the face's left (image right for a frontal face), y up, z out of the face
    (towards the camera); camera axes: x image right, y image up, z towards the viewer (points in
    front have z < 0). Projection (x mirrored, as the original): ``u = -f X_c/Z_c + cx``,
    ``v = f Y_c/Z_c + cy`` (u column, v row, pixels).

    yaw/pitch/roll (degrees): ``R = Ry(yaw) @ Rx(pitch) @ Rz(roll)`` about the camera axes; a face
    looking into the camera has 0, 0, 0; yaw > 0 turns the nose towards the image right, pitch > 0
    tilts it down, roll > 0 turns the face counter-clockwise in the picture.

    focal / principal_point: in 500x500 crop pixels; ``focal_image`` / ``principal_point_image``
    the same camera in original-photo pixels (the crop undone).
    """

    rvec: np.ndarray
    matrix: np.ndarray
    tvec: np.ndarray
    yaw: float
    pitch: float
    roll: float
    focal: float
    principal_point: tuple[float, float]
    focal_image: float
    principal_point_image: tuple[float, float]

    @classmethod
    def from_fit(cls, rvec: np.ndarray, tvec: np.ndarray, box: CropBox) -> Pose:
        """The pose of a fit (crop camera: focal 1000, centre 250, 250) and the crop box."""
        from extreme3d.camera import FOCAL, rotation_matrix, yaw_pitch_roll_deg
        from extreme3d.overlay import image_camera

        r = np.asarray(rvec, np.float64).reshape(3)
        m = rotation_matrix(r)
        yaw, pitch, roll = yaw_pitch_roll_deg(m)
        fi, cx, cy = image_camera(box)
        return cls(r, m, np.asarray(tvec, np.float64).reshape(3), yaw, pitch, roll, FOCAL,
                   (CROP_SIZE / 2.0, CROP_SIZE / 2.0), fi, (cx, cy))


@dataclass
class FaceResult:
    """Everything reconstructed for one face of a photo.

    Arrays: ``crop`` 500x500x3 BGR uint8; ``box`` the crop's box in original pixels;
    ``landmarks`` (68,2) original-image pixels, ``landmarks_crop`` (68,2) crop pixels;
    ``landmarks_3d`` (68,3) mm in model coordinates (on the foundation with expression) and
    ``landmark_vertices`` (68,) their vertex indices; ``alpha`` identity and ``expr`` expression
    coefficients; ``bump`` / ``mask`` 512x512 uint8 maps; ``meshes`` every mesh computed, keyed
    by the original's names (``foundation_frontal``, ``withBump_aligned``, ``final_frontal``...),
    frontal ones in model coordinates, aligned ones in camera coordinates (mm), as TexturedMesh
    with per-vertex colours (``colors`` mode); ``foundation``, ``with_bump`` and ``final`` are
    the frontal ones. ``sources``: which source produced each stage.
    """

    index: int
    name: str
    image_path: str | None
    image_size: tuple[int, int]
    crop: np.ndarray
    box: CropBox
    landmarks: np.ndarray
    landmarks_crop: np.ndarray
    landmarks_3d: np.ndarray
    landmark_vertices: np.ndarray
    landmarks_used: np.ndarray
    pose: Pose
    alpha: np.ndarray
    expr: np.ndarray
    beta: np.ndarray | None
    meshes: dict[str, TexturedMesh]
    bump: np.ndarray
    mask: np.ndarray
    sources: dict[str, str]
    rmse_px: float
    fit_mode: str
    symmetry: bool
    timings: dict[str, float] = field(default_factory=dict)
    color_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    texture_size: int = 1024
    photo: np.ndarray | None = field(default=None, repr=False)  # the original photo (BGR)
    _textures: dict[str, Any] = field(default_factory=dict, repr=False)
    #: depth buffers (crop camera) of the frontal meshes rendered for their colours, reused
    #: by the texture baking (same mesh, same pose)
    _depths: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    @property
    def foundation(self) -> TexturedMesh:
        """Identity + expression, no detail (model coordinates)."""
        return self._mesh("foundation")

    @property
    def with_bump(self) -> TexturedMesh:
        """The dense mesh with the bump map's detail, frontal (model coordinates)."""
        return self._mesh("with_bump")

    @property
    def final(self) -> TexturedMesh:
        """The final mesh: detail + occlusion handling + soft symmetry (model coordinates)."""
        return self._mesh("final")

    def _mesh(self, short: str) -> TexturedMesh:
        """A main mesh by short name, textured on first use when it is a textured kind."""
        key = MAIN_MESHES[short]
        if key not in self.meshes:
            raise Extreme3DError(f"{self.name}: no {key} mesh was computed"
                                 + ("" if self.symmetry else " (soft symmetry is off)"))
        return self.textured(key)

    @property
    def scale(self) -> float:
        """Original pixels -> crop pixels factor (500 / box height)."""
        return CROP_SIZE / self.box.height

    @property
    def rmse_px_image(self) -> float:
        """Landmark RMSE of the fit in original-photo pixels."""
        return self.rmse_px / self.scale

    def textured(self, key: str) -> TexturedMesh:
        """The mesh `key` with its photo texture (uv + image) baked on first use."""
        mesh = self.meshes[key]
        base = TWINS.get(key, key)
        if mesh.texture is not None or base not in TEXTURED or base not in self.meshes:
            return mesh
        tex = self.texture_map(base)
        mesh.uv, mesh.texture = tex.uv, tex.image
        return mesh

    def texture_map(self, key: str):
        """The baked TextureMap (extreme3d.texture) of a frontal mesh, cached."""
        if key not in self._textures:
            from extreme3d.colors import crop_mask_from_bump
            from extreme3d.texture import bake_texture

            t0 = time.perf_counter()
            m = self.meshes[key]
            self._textures[key] = bake_texture(
                m.vertices, m.faces, self.crop, self.pose.rvec, self.pose.tvec,
                size=self.texture_size, image_mask=crop_mask_from_bump(self.mask),
                symmetry=self.symmetry, zbuf=self._depths.get(key),
            )
            self.timings["texture"] = self.timings.get("texture", 0.0) + time.perf_counter() - t0
        return self._textures[key]

    def projected_landmarks(self) -> np.ndarray:
        """The 3D landmarks projected with the stored camera, in original-photo pixels (68,2)."""
        from extreme3d.overlay import project_to_image

        return project_to_image(self.landmarks_3d, self.pose.rvec, self.pose.tvec, self.box)

    def overlay(self, image: np.ndarray | str | os.PathLike[str] | None = None) -> np.ndarray:
        """The final (or with-bump) mesh shaded half-transparent over the original photo (default:
        the photo reconstructed), with the input (green) and projected (red) landmarks; BGR."""
        from extreme3d.overlay import overlay_image

        if image is None:
            image = self.photo if self.photo is not None else self.image_path
        if image is None:
            raise Extreme3DError(f"{self.name}: no photo to draw the overlay on")
        img = _read(image) if isinstance(image, str | os.PathLike) else np.asarray(image)
        key = "final_frontal" if "final_frontal" in self.meshes else "withBump_frontal"
        if key not in self.meshes:
            key = "foundation_frontal"
        m = self.meshes[key]
        out, _ = overlay_image(img, m.vertices, m.faces, self.pose.rvec, self.pose.tvec,
                               self.box, self.landmarks, self.landmarks_3d)
        return out

    def params(self) -> dict[str, Any]:
        """The params/<name>.json document (see docs/api.md and extreme3d.params)."""
        from extreme3d.params import face_params

        return face_params(self)

    def save(
        self,
        out_dir: str | os.PathLike[str],
        name: str | None = None,
        *,
        formats: tuple[str, ...] = ("ply",),
        outputs: tuple[str, ...] | None = None,
        image: np.ndarray | None = None,
        overlay: bool = True,
        params: bool = True,
        maps: bool = True,
    ) -> list[str]:
        """Writes the batch output tree for this face into out_dir (imgs/, shape/, bump/, 3D/,
        params/, overlay/) and returns the written paths relative to out_dir.

        formats: any of ply, obj, glb; outputs: mesh keys (default: the original's default set
        among those computed); image: the original photo (BGR) for the overlay (default: read
        from image_path when known)."""
        from extreme3d.io.pts import write_pts
        from extreme3d.params import write_params
        from extreme3d.pipeline import DEFAULT_OUTPUTS

        bad = [f for f in formats if f not in FORMATS]
        if bad:
            raise Extreme3DError(f"unknown mesh format {bad[0]!r} (use {', '.join(FORMATS)})")
        out = Path(out_dir)
        name = name or self.name
        keys = tuple(k for k in (outputs or DEFAULT_OUTPUTS) if k in self.meshes)
        written: list[str] = []
        t0 = time.perf_counter()

        def rel(p: Path) -> str:
            written.append(str(p.relative_to(out)))
            return written[-1]

        if maps:
            from extreme3d.models.shape_cnn import format_alpha

            for sub in ("imgs", "shape", "bump"):
                (out / sub).mkdir(parents=True, exist_ok=True)
            atomic_write_png(out / "imgs" / f"{name}.png", self.crop)
            rel(out / "imgs" / f"{name}.png")
            write_pts(out / "imgs" / f"{name}.pts", self.landmarks_crop)
            rel(out / "imgs" / f"{name}.pts")
            atomic_write_text(out / "shape" / f"{name}.ply.alpha", format_alpha(self.alpha))
            rel(out / "shape" / f"{name}.ply.alpha")
            fnd = self.meshes.get("foundation_frontal")
            if fnd is not None:
                Mesh(fnd.vertices, fnd.faces, fnd.colors).save(
                    out / "shape" / f"{name}.ply", style="python")
                rel(out / "shape" / f"{name}.ply")
            atomic_write_png(out / "bump" / f"{name}_bump.png", self.bump)
            rel(out / "bump" / f"{name}_bump.png")
            atomic_write_png(out / "bump" / f"{name}_mask.png", self.mask)
            rel(out / "bump" / f"{name}_mask.png")
        (out / "3D").mkdir(parents=True, exist_ok=True)
        for key in keys:
            for fmt in formats:
                path = out / "3D" / f"{name}_{key}.{fmt}"
                mesh = self.textured(key) if fmt != "ply" else self.meshes[key]
                mesh.save(path)
                rel(path)
                if fmt == "obj" and mesh.texture is not None:
                    rel(path.with_suffix(".mtl"))
                    rel(path.with_suffix(".png"))
        if overlay:
            img = image if image is not None else self.photo
            if img is None and self.image_path is not None:
                img = _read(self.image_path)
            if img is not None:
                from extreme3d.overlay import write_overlay

                rel(write_overlay(out / "overlay" / f"{name}.png", self.overlay(img)))
        self.timings["write"] = self.timings.get("write", 0.0) + time.perf_counter() - t0
        if params:
            path = out / "params" / f"{name}.json"
            write_params(path, self, outputs=written + [f"params/{name}.json"])
            rel(path)
        return written


def _read(image: str | os.PathLike[str]) -> np.ndarray:
    """A photo as BGR uint8 (errors name the file)."""
    from extreme3d.landmarks import read_image

    return read_image(Path(image))


class Reconstructor:
    """Loads the morphable model (and the CNNs when present) once; ``reconstruct`` per photo.

    model: path of the .h5 model or a loaded MorphableModel (default: 3DMM_model/, the BFM when
    prepared, else the Surrey model); cnn_dir: folder of the user's CNN files (default ./CNN);
    device: torch device for the CNNs ("auto", "cpu", "cuda"); shape_source: "cnn" or
    "landmarks" (default: cnn when its files exist); bump_source: "cnn", "photo" or "flat"
    (default: cnn when its weights exist, else photo when available, else flat); symmetry: soft
    symmetry and occlusion handling (final mesh); fit_mode: "faithful" (the original's pose) or
    "best"; colors: "photo", "model" or "none" (default: model when the model has a texture,
    else photo); texture_size: side of the baked OBJ textures (px).
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
    ) -> None:
        from extreme3d import pipeline
        from extreme3d.colors import resolve_color_mode
        from extreme3d.paths import cnn_dir as default_cnn_dir

        t0 = time.perf_counter()
        if fit_mode not in ("faithful", "best"):
            raise Extreme3DError(f"fit_mode must be 'faithful' or 'best', got {fit_mode!r}")
        self.cnn_dir = Path(cnn_dir) if cnn_dir else default_cnn_dir()
        if model is None or isinstance(model, str | os.PathLike):
            self.model_path: Path | None = Path(model or pipeline.default_model_path())
            self.model = pipeline.load_morphable(self.model_path)
        else:
            self.model_path, self.model = None, model
        self.shape_source = pipeline.choose_shape_source(shape_source, self.cnn_dir)
        self.bump_source = pipeline.choose_bump_source(bump_source, self.cnn_dir)
        self.symmetry = bool(symmetry)
        self.fit_mode = fit_mode
        self.colors = resolve_color_mode(colors, self.model)
        self.texture_size = int(texture_size)
        self.predictor = predictor
        self.device = device
        self._shape_net = self._bump_net = None
        if self.shape_source == "cnn":
            from extreme3d.models.shape_cnn import ShapeCNN

            self._shape_net = ShapeCNN.load(self.cnn_dir, device)
        if self.bump_source == "cnn":
            from extreme3d.models.bump_cnn import BumpCNN
            from extreme3d.models.files import bump_weights

            self._bump_net = BumpCNN.load(bump_weights(self.cnn_dir), device)
        self.load_seconds = time.perf_counter() - t0

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
        from extreme3d.io.pts import read_pts
        from extreme3d.landmarks import detect_faces, to_bgr8
        from extreme3d.naming import image_name

        path = None
        if isinstance(image, str | os.PathLike):
            path = Path(image)
            img = _read(path)
        else:
            img = to_bgr8(np.asarray(image))
        base = name or (image_name(path) if path is not None else "image")
        t0 = time.perf_counter()
        if landmarks is None:
            faces = detect_faces(img, self.predictor,
                                 order="left_to_right" if all_faces else "detector")
            if not faces:
                raise Extreme3DError(f"{path or 'image'}: no face detected")
            sets = [f.landmarks.astype(np.float64) for f in faces]
            lm_source = "dlib"
        else:
            items = landmarks if isinstance(landmarks, list | tuple) and not _is_points(
                landmarks) else [landmarks]
            sets = [read_pts(Path(x)) if isinstance(x, str | os.PathLike)
                    else np.asarray(x, np.float64) for x in items]
            for s in sets:
                if s.shape != (68, 2):
                    raise Extreme3DError(f"landmarks must be (68, 2) photo pixels, got {s.shape}")
            if all_faces:
                sets.sort(key=lambda s: (float(s[:, 0].min()), float(s[:, 1].min())))
            lm_source = "given"
        detect_s = time.perf_counter() - t0
        if not all_faces:
            sets = sets[:1]
        results = []
        for k, lms in enumerate(sets):
            face_name = f"{base}_face{k}" if all_faces else base
            res = self.reconstruct_face(img, lms, name=face_name, index=k, outputs=outputs,
                                        image_path=None if path is None else str(path),
                                        landmark_source=lm_source)
            res.timings["detect"] = detect_s / len(sets)
            results.append(res)
        return results

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
        from extreme3d.crop import crop_face
        from extreme3d.fitting import fit_identity, fit_pose_expression
        from extreme3d.geometry import MESH_NAMES, run_geometry
        from extreme3d.pipeline import SYMMETRY_OUTPUTS

        timings: dict[str, float] = {}
        t = time.perf_counter()
        crop = crop_face(image_bgr, np.asarray(landmarks, np.float64))
        lm_crop = np.asarray(crop.landmarks, np.float64)
        timings["prepare"] = _lap(t)
        model = self.model
        t = time.perf_counter()
        alpha, beta = self._identity(crop.image, lm_crop, fit_identity)
        timings["shape"] = _lap(t)
        t = time.perf_counter()
        fit = fit_pose_expression(model, lm_crop, alpha, mode=self.fit_mode)
        timings["fit"] = _lap(t)
        t = time.perf_counter()
        bump, mask = self._bump_maps(crop.image, lm_crop, alpha, fit)
        timings["bump"] = _lap(t)
        t = time.perf_counter()
        wanted = tuple(k for k in (outputs or MESH_NAMES)
                       if self.symmetry or k not in SYMMETRY_OUTPUTS)
        geo = run_geometry(model, alpha, fit.expr, fit.rvec, fit.tvec, bump, mask,
                           symmetry=self.symmetry, outputs=wanted)
        timings["geometry"] = _lap(t)
        sources = {"landmarks": landmark_source, "shape": self.shape_source,
                   "bump": getattr(self, "_bump_used", self.bump_source)}
        return assemble_result(
            model, name=name, index=index, photo=image_bgr, image_path=image_path,
            box=crop.box, crop=crop.image, landmarks=landmarks, landmarks_crop=lm_crop,
            alpha=alpha, beta=beta, fit=fit, bump=bump, mask=mask, meshes=geo.meshes,
            sources=sources, colors=self.colors, symmetry=self.symmetry,
            texture_size=self.texture_size, timings=timings,
        )

    # ------------------------------------------------------------------ stages

    def _identity(self, crop: np.ndarray, lm_crop: np.ndarray, fit_identity: Any
                  ) -> tuple[np.ndarray, np.ndarray | None]:
        """Identity coefficients (padded to the model's size) and texture coefficients or None."""
        from extreme3d.models.shape_cnn import NUM_COEFFS

        k = self.model.num_shape
        beta = None
        if self._shape_net is not None:
            row = self._shape_net.predict([crop], 1)[0]
            raw = np.asarray(row[:NUM_COEFFS], np.float64)
            if len(row) >= 2 * NUM_COEFFS:
                beta = np.asarray(row[NUM_COEFFS : 2 * NUM_COEFFS], np.float64)
        else:
            raw = np.asarray(fit_identity(self.model, lm_crop).alpha, np.float64).reshape(-1)
        alpha = np.zeros(k, np.float64)
        alpha[: min(k, len(raw))] = raw[:k]
        return alpha, beta

    def _bump_maps(self, crop: np.ndarray, lm_crop: np.ndarray, alpha: np.ndarray, fit: Any
                   ) -> tuple[np.ndarray, np.ndarray]:
        """Bump map and mask (512x512 uint8) from the chosen source (as the batch)."""
        from extreme3d import pipeline

        self._bump_used = self.bump_source
        if self._bump_net is not None:
            bump, mask = self._bump_net.predict([crop[:, :, ::-1]], 1)[0]
        elif self.bump_source == "photo":
            info = getattr(pipeline, "photo_bump_info", None)
            if info is not None:  # also says when the estimator fell back to a flat map
                bump, mask, self._bump_used, _ = info(crop, lm_crop, self.model, fit)
            else:
                bump, mask = pipeline.photo_bump(crop, lm_crop, self.model, fit)
        else:
            bump = np.full((512, 512), 127, np.uint8)
            mask = pipeline.foundation_mask(self.model, alpha, fit)
        return np.asarray(bump, np.uint8), np.asarray(mask, np.uint8)

def color_meshes(
    meshes: dict[str, TexturedMesh], model: Any, mode: str, crop: np.ndarray, fit: Any,
    mask: np.ndarray | None, beta: np.ndarray | None = None, symmetry: bool = True,
    depths: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, int]]:
    """Sets the per-vertex colours of every mesh (in place) by the colour mode (photo, model,
    none; extreme3d.colors) and returns, per mesh, how many vertices each source coloured.
    Frontal meshes are coloured at the fitted pose; aligned ones take their frontal twin's.
    depths: filled with the depth buffer of each frontal mesh coloured from the photo."""
    from extreme3d.colors import (
        crop_mask_from_bump,
        model_vertex_colors,
        photo_vertex_colors,
        render_depth,
    )

    counts: dict[str, dict[str, int]] = {}
    if mode == "none":
        return counts
    model_cols = model_vertex_colors(model, beta) if mode == "model" else None
    img_mask = crop_mask_from_bump(mask)
    rvec, tvec = np.asarray(_field(fit, "rvec")), np.asarray(_field(fit, "tvec"))
    for key in [k for k in meshes if k not in TWINS]:
        m = meshes[key]
        if model_cols is not None and m.num_vertices == len(model_cols):
            m.colors = model_cols
            counts[key] = {"model": m.num_vertices}
            continue
        zbuf = render_depth(m.vertices, m.faces, rvec, tvec, width=crop.shape[1],
                            height=crop.shape[0])
        if depths is not None:
            depths[key] = zbuf
        vc = photo_vertex_colors(m.vertices, m.faces, crop, rvec, tvec, image_mask=img_mask,
                                 symmetry=symmetry, zbuf=zbuf)
        m.colors = vc.colors
        counts[key] = vc.counts()
    for key, twin in TWINS.items():
        if key in meshes and twin in meshes:
            meshes[key].colors = meshes[twin].colors
        elif key in meshes:  # aligned mesh without its frontal twin: undo the pose
            from extreme3d.camera import rotation_matrix

            m = meshes[key]
            frontal = (m.vertices.astype(np.float64) - tvec) @ rotation_matrix(rvec)
            vc = photo_vertex_colors(frontal, m.faces, crop, rvec, tvec, image_mask=img_mask,
                                     symmetry=symmetry)
            m.colors = vc.colors
            counts[key] = vc.counts()
    return counts


def assemble_result(
    model: Any,
    *,
    name: str,
    index: int = 0,
    photo: np.ndarray | None,
    image_path: str | None,
    box: CropBox,
    crop: np.ndarray,
    landmarks: np.ndarray,
    landmarks_crop: np.ndarray,
    alpha: np.ndarray,
    beta: np.ndarray | None,
    fit: Any,
    bump: np.ndarray,
    mask: np.ndarray,
    meshes: dict[str, Mesh],
    sources: dict[str, str],
    colors: str = "photo",
    symmetry: bool = True,
    texture_size: int = 1024,
    timings: dict[str, float] | None = None,
    image_size: tuple[int, int] | None = None,
) -> FaceResult:
    """A FaceResult from the outputs of the stages (used by Reconstructor and the batch):
    colours the meshes, picks the 3D landmarks, and fills pose and sources."""
    from extreme3d.morphable import landmark_indices

    timings = dict(timings or {})
    t = time.perf_counter()
    tm = {k: TexturedMesh(m.vertices, m.faces) for k, m in meshes.items()}
    depths: dict[str, np.ndarray] = {}
    counts = color_meshes(tm, model, colors, crop, fit, mask, beta, symmetry, depths)
    timings["colors"] = _lap(t)
    rvec, tvec = np.asarray(_field(fit, "rvec")), np.asarray(_field(fit, "tvec"))
    expr = np.asarray(_field(fit, "expr"), np.float64)
    lv = landmark_indices(model, -float(rvec[1]))
    verts = model.shape(alpha=alpha, expr=expr)
    fit_mode = str(getattr(fit, "mode", "faithful"))
    pose_choice = str(getattr(fit, "pose_choice", "epnp"))
    if image_size is None:
        image_size = ((int(photo.shape[1]), int(photo.shape[0])) if photo is not None
                      else (0, 0))
    src = {"landmarks": "given", "shape": "landmarks", "bump": "flat"} | dict(sources)
    src |= {"fit": f"{fit_mode} ({pose_choice} pose)",
            "geometry": "soft symmetry" if symmetry else "no symmetry", "colors": colors}
    return FaceResult(
        index=index, name=name, image_path=image_path, image_size=image_size,
        crop=crop, box=box, landmarks=np.asarray(landmarks, np.float64),
        landmarks_crop=np.asarray(landmarks_crop, np.float64),
        landmarks_3d=np.asarray(verts[lv], np.float64), landmark_vertices=np.asarray(lv, np.int64),
        landmarks_used=np.asarray(getattr(fit, "landmarks_used", np.arange(68)), np.int64),
        pose=Pose.from_fit(rvec, tvec, box),
        alpha=np.asarray(alpha, np.float64), expr=expr,
        beta=None if beta is None else np.asarray(beta, np.float64),
        meshes=tm, bump=np.asarray(bump, np.uint8), mask=np.asarray(mask, np.uint8),
        sources=src, rmse_px=float(_field(fit, "rmse_px")), fit_mode=fit_mode,
        symmetry=symmetry, timings=timings, color_counts=counts, texture_size=texture_size,
        photo=photo, _depths=depths,
    )


def write_face_outputs(
    model: Any,
    out_dir: str | os.PathLike[str],
    name: str,
    *,
    crop: np.ndarray,
    landmarks_crop: np.ndarray,
    alpha: np.ndarray,
    fit: Any,
    bump: np.ndarray,
    mask: np.ndarray,
    meshes: dict[str, Mesh],
    outputs: tuple[str, ...],
    landmarks: np.ndarray | None = None,
    image_path: str | None = None,
    beta: np.ndarray | None = None,
    sources: dict[str, str] | None = None,
    colors: str = "photo",
    formats: tuple[str, ...] = ("ply",),
    symmetry: bool = True,
    overlay: bool = True,
    params: bool = True,
    texture_size: int = 1024,
    timings: dict[str, float] | None = None,
    index: int = 0,
) -> tuple[FaceResult, list[str]]:
    """The batch's hook after the geometry stage: 3D/<name>_<mesh>.<fmt> for every requested mesh
    and format (coloured by `colors`, textured OBJ/GLB for the foundation and final meshes),
    params/<name>.json and overlay/<name>.png. `landmarks` (photo pixels) give the crop box and
    `image_path` the photo of the overlay; without them the crop stands in for the photo.
    Returns the FaceResult and the paths written, relative to out_dir."""
    from extreme3d.crop import crop_box

    photo = None
    if landmarks is not None:
        box = crop_box(np.asarray(landmarks, np.float64))
    else:
        box, landmarks, photo = CropBox(0, 0, CROP_SIZE, CROP_SIZE), landmarks_crop, crop
    size = None
    if photo is None and image_path is not None:
        if overlay:
            photo = _read(image_path)
        else:
            size = _image_size(image_path)
    result = assemble_result(
        model, name=name, index=index, photo=photo, image_path=image_path, box=box, crop=crop,
        landmarks=landmarks, landmarks_crop=landmarks_crop, alpha=alpha, beta=beta, fit=fit,
        bump=bump, mask=mask, meshes=meshes, sources=sources or {}, colors=colors,
        symmetry=symmetry, texture_size=texture_size, timings=timings, image_size=size,
    )
    written = result.save(out_dir, name, formats=formats, outputs=outputs, overlay=overlay,
                          params=params, maps=False)
    return result, written


def prepare_all_faces(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None,
    landmark_dir: str | os.PathLike[str] | None = None,
    *,
    name: str,
    predictor_path: str | os.PathLike[str] | None = None,
) -> list[Any]:
    """Every face of a photo sorted left to right, prepared as extreme3d.prepare_images does for
    the first one (PreparedImage each, named <name>_face<k>); with out_dir, writes each face's
    imgs/<name>_face<k>.png, .pts and _detect.png. Landmarks from <landmark_dir>/<name>.pts give
    one face. No face: Extreme3DError naming the file."""
    from extreme3d.crop import crop_face
    from extreme3d.io.pts import read_pts, write_pts
    from extreme3d.landmarks import detect_faces
    from extreme3d.prepare_images import PreparedImage, draw_detection

    src = Path(path)
    image = _read(src)
    if landmark_dir is not None:
        sets, source = [read_pts(Path(landmark_dir) / f"{name}.pts")], "file"
    else:
        faces = detect_faces(image, predictor_path, order="left_to_right")
        if not faces:
            raise Extreme3DError(f"{src}: no face detected")
        sets, source = [f.landmarks for f in faces], "dlib"
    out = []
    for k, lms in enumerate(sets):
        face_name = f"{name}_face{k}"
        crop = crop_face(image, lms)
        crop_path = None
        if out_dir is not None:
            imgs = Path(out_dir) / "imgs"
            imgs.mkdir(parents=True, exist_ok=True)
            atomic_write_png(imgs / f"{face_name}_detect.png", draw_detection(image, lms))
            write_pts(imgs / f"{face_name}.pts", crop.landmarks)
            crop_path = imgs / f"{face_name}.png"
            atomic_write_png(crop_path, crop.image)
        out.append(PreparedImage(
            name=face_name, source=src, crop=crop.image, landmarks=crop.landmarks, box=crop.box,
            scale=crop.scale, original_landmarks=np.asarray(lms, np.float64),
            image_size=(int(image.shape[1]), int(image.shape[0])), landmark_source=source,
            num_faces=len(sets), crop_path=crop_path,
        ))
    return out


def _image_size(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    """(width, height) of an image file from its header, or None when unreadable."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return int(im.size[0]), int(im.size[1])
    except (OSError, ImportError):
        return None


def _field(obj: Any, name: str) -> Any:
    """Attribute or dict item `name` of a result object."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def _is_points(x: Any) -> bool:
    """True when x is one (68,2) point set (array or nested list), not a list of sets."""
    try:
        return np.asarray(x, dtype=np.float64).shape == (68, 2)
    except (ValueError, TypeError):
        return False


def _lap(t0: float) -> float:
    """Seconds since t0."""
    return time.perf_counter() - t0
