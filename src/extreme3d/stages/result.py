"""The result of one face: pose, coefficients, landmarks and the coloured meshes (FaceResult).

``assemble_result`` is the stage after the geometry: it colours the meshes (photo, model or no
colours; extreme3d.colors), picks the 3D landmarks and fills the pose; the FaceResult it returns
bakes textures, draws overlays and writes its files on demand (extreme3d.stages.outputs).
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
from extreme3d.mesh import Mesh

#: Short names of the three main meshes (all frontal, model coordinates).
MAIN_MESHES = {"foundation": "foundation_frontal", "with_bump": "withBump_frontal",
               "final": "final_frontal"}
#: Meshes that get a baked photo texture in OBJ/GLB outputs (aligned ones reuse their frontal
#: twin's texture: same vertices in the same order).
TEXTURED = ("final_frontal", "foundation_frontal")
TWINS = {"foundation_aligned": "foundation_frontal", "withBump_aligned": "withBump_frontal"}

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
    raw_alpha: np.ndarray | None = None  # identity coefficients as the source gave them
    #: verdict on the landmarks of the identity fit (LandmarkQuality.to_dict(): ok, warning,
    #: downweighted, rmse_px, inlier_rmse_px, alpha_norm); None with the shape CNN
    landmark_quality: dict[str, Any] | None = None
    model: Any = field(default=None, repr=False)  # the morphable model (shape/ files)
    #: 512x512 uint8 occluder mask (255) of the occlusion step, None when it did not run; the
    #: mask above is then 0 on occluders (geometry, colours and textures treat them occluded)
    occluders: np.ndarray | None = None
    occlusion: dict[str, Any] = field(default_factory=dict)  # what the occlusion step found
    #: 512x512 uint8 mask the geometry's soft symmetry read, when it differs from `mask` (the
    #: occluders without a clean mirrored side kept visible: stages.bump.geometry_mask)
    geometry_mask: np.ndarray | None = field(default=None, repr=False)
    _textures: dict[str, Any] = field(default_factory=dict, repr=False)
    #: depth buffers (crop camera) of the frontal meshes rendered for their colours, reused
    #: by the texture baking (same mesh, same pose)
    _depths: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    #: final mesh layout: None (clean for `final` and OBJ/GLB, original in PLY), clean, original
    mesh_mode: str | None = None
    #: the dense registration of final_frontal's detail (geometry.GeometryResult.registration)
    registration: dict[str, np.ndarray] | None = field(default=None, repr=False)
    _clean: dict[str, Any] = field(default_factory=dict, repr=False)
    #: crop pixels (bool 500x500) the colours and textures sample (face_pixel_mask); None: the
    #: bump mask's face
    color_mask: np.ndarray | None = field(default=None, repr=False)
    #: share of the face mask that color_mask leaves out, by reason (rim, background; empty
    #: when only the bump mask applies): extreme3d.stages.result.color_sampling
    color_left_out: dict[str, float] = field(default_factory=dict)

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
        """The final mesh: detail + occlusion handling + soft symmetry (model coordinates); the
        clean mesh (one connected manifold surface, see clean_final) unless mesh_mode is
        'original' (the original's layout, meshes['final_frontal'])."""
        if self.mesh_mode != "original" and self.has_clean_final:
            return self.clean_final()
        return self._mesh("final")

    @property
    def has_clean_final(self) -> bool:
        """Whether the clean final mesh can be built (final_frontal and its registration)."""
        return "final_frontal" in self.meshes and self.registration is not None

    def uses_clean(self, key: str, fmt: str) -> bool:
        """Whether the file `key` in format `fmt` holds the clean final mesh (mesh_mode: None =
        OBJ/GLB only, 'clean' every format, 'original' none)."""
        if key != "final_frontal" or not self.has_clean_final or self.mesh_mode == "original":
            return False
        return self.mesh_mode == "clean" or fmt != "ply"

    def clean_final(self, textured: bool = True, decimate: float | str | None = None
                    ) -> TexturedMesh:
        """The clean final mesh (extreme3d.clean_mesh): the dense detail and the completed sparse
        surface joined into one connected, manifold, consistently oriented surface without
        unused vertices, detail blended in at the seam; colours (and with `textured` the uv and
        texture) of final_frontal's vertices. decimate: None (or "off", 1) the full clean mesh,
        "auto" the error-bounded simplification of the OBJ/GLB files (extreme3d.decimate.simplify:
        removed vertices within 0.03 mm of the surface, uv within one texel), a ratio the
        fraction of the faces kept (quadric decimation)."""
        from extreme3d.decimate import decimate_setting

        decimate = decimate_setting(decimate)
        key = (textured, decimate)
        if key in self._clean:
            return self._clean[key]
        from extreme3d.clean_mesh import build_clean_mesh, carry_over, model_chart

        if not self.has_clean_final:
            raise Extreme3DError(f"{self.name}: no final mesh to clean"
                                 + ("" if self.symmetry else " (soft symmetry is off)"))
        if "built" not in self._clean:
            t0 = time.perf_counter()
            final = self.meshes["final_frontal"]
            self._clean["built"] = build_clean_mesh(
                model_chart(self.model), self.model.faces, self.model.pair, final.vertices,
                final.faces, self.model.num_vertices, self.registration["tri"],
                self.registration["w"])
            self.timings["clean_mesh"] = time.perf_counter() - t0
        built = self._clean["built"]
        base = self.textured("final_frontal") if textured else self.meshes["final_frontal"]
        if not textured:
            base = TexturedMesh(base.vertices, base.faces, base.colors)
        mesh = carry_over(base, built.mesh.vertices, built.mesh.faces, built.source)
        if decimate == "auto":
            from extreme3d.decimate import DETAIL_TOLERANCE_TEXELS, simplify

            t0 = time.perf_counter()
            tex = getattr(mesh, "texture", None)
            uv = getattr(mesh, "uv", None) if tex is not None else None
            d = simplify(mesh.vertices, mesh.faces, uv,
                         uv_tolerance=0.0 if uv is None else DETAIL_TOLERANCE_TEXELS / max(
                             tex.shape[:2]))
            mesh = carry_over(mesh, d.vertices, d.faces, d.source)
            self.timings["simplify"] = self.timings.get("simplify", 0.0) + (
                time.perf_counter() - t0)
        elif decimate is not None and decimate < 1.0:
            from extreme3d.decimate import decimate as decimated

            d = decimated(mesh.vertices, mesh.faces, decimate)
            mesh = carry_over(mesh, d.vertices, d.faces, d.source)
        self._clean[key] = mesh
        return mesh

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
                size=self.texture_size,
                image_mask=(crop_mask_from_bump(self.mask) if self.color_mask is None
                            else self.color_mask),
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
        ply_binary: bool = False,
        decimate: float | str | None = None,
    ) -> list[str]:
        """Writes the batch output tree for this face into out_dir (imgs/, shape/, bump/, 3D/,
        params/, overlay/) and returns the written paths relative to out_dir.

        formats: any of ply, obj, glb; outputs: mesh keys (default: the original's default set
        among those computed); image: the original photo (BGR) for the overlay (default: read
        from image_path when known); maps: also imgs/, shape/ and bump/; ply_binary: binary
        PLY files; decimate: fraction of faces kept in the clean final mesh files (mesh_mode
        says which files hold the clean mesh)."""
        from extreme3d.stages.outputs import save_face

        return save_face(self, out_dir, name, formats=formats, outputs=outputs, image=image,
                         overlay=overlay, params=params, maps=maps, ply_binary=ply_binary,
                         decimate=decimate)


def _read(image: str | os.PathLike[str]) -> np.ndarray:
    """A photo as BGR uint8 (errors name the file)."""
    from extreme3d.landmarks import read_image

    return read_image(Path(image))



def face_pixel_mask(
    crop: np.ndarray, mask: np.ndarray | None, background: bool = False,
) -> np.ndarray | None:
    """Crop pixels (bool HxW) whose colour the meshes and textures may take: the bump mask
    (512x512, occluders 0: with a CNN or photo map, hair over the face among them) cut to the
    crop, less, when `background`, what `color_sampling` leaves out (rim background, person
    segmentation's background); None without a mask."""
    return color_sampling(crop, mask, background)[0]


def color_sampling(
    crop: np.ndarray, mask: np.ndarray | None, background: bool = False,
) -> tuple[np.ndarray | None, dict[str, float]]:
    """(`face_pixel_mask`'s mask, the share of the face mask each exclusion took: "rim"
    (extreme3d.occlusion.background) and "background" (extreme3d.occlusion.person)); the
    shares are empty when nothing was tested."""
    from extreme3d.colors import crop_mask_from_bump

    face = crop_mask_from_bump(mask)
    if face is None or not background or face.shape != crop.shape[:2]:
        return face, {}
    from extreme3d.occlusion.background import non_face_pixels
    from extreme3d.occlusion.person import background_pixels
    from extreme3d.occlusion.segment import face_share

    parts = {"rim": non_face_pixels(crop, face), "background": background_pixels(crop, face)}
    left_out = parts["rim"] | parts["background"]
    return face & ~left_out, {k: face_share(v, face) for k, v in parts.items()}


def color_meshes(
    meshes: dict[str, TexturedMesh], model: Any, mode: str, crop: np.ndarray, fit: Any,
    mask: np.ndarray | None, beta: np.ndarray | None = None, symmetry: bool = True,
    depths: dict[str, np.ndarray] | None = None, image_mask: np.ndarray | None = None,
) -> dict[str, dict[str, int]]:
    """Sets the per-vertex colours of every mesh (in place) by the colour mode (photo, model,
    none; extreme3d.colors) and returns, per mesh, how many vertices each source coloured.
    Frontal meshes are coloured at the fitted pose; aligned ones take their frontal twin's.
    depths: filled with the depth buffer of each frontal mesh coloured from the photo;
    image_mask: the crop pixels that may be sampled (default: the bump mask's face)."""
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
    img_mask = crop_mask_from_bump(mask) if image_mask is None else image_mask
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
    raw_alpha: np.ndarray | None = None,
    mesh_mode: str | None = None,
    registration: dict[str, np.ndarray] | None = None,
    landmark_quality: dict[str, Any] | None = None,
    background: bool = False,
) -> FaceResult:
    """A FaceResult from the outputs of the stages (used by Reconstructor and the batch):
    colours the meshes, picks the 3D landmarks, and fills pose and sources."""
    from extreme3d.morphable import landmark_indices

    timings = dict(timings or {})
    t = time.perf_counter()
    tm = {k: TexturedMesh(m.vertices, m.faces) for k, m in meshes.items()}
    depths: dict[str, np.ndarray] = {}
    color_mask, left_out = color_sampling(crop, mask, background)
    counts = color_meshes(tm, model, colors, crop, fit, mask, beta, symmetry, depths,
                          image_mask=color_mask)
    timings["colors"] = _lap(t)
    rvec, tvec = np.asarray(_field(fit, "rvec")), np.asarray(_field(fit, "tvec"))
    expr = np.asarray(_field(fit, "expr"), np.float64)
    fit_mode = str(getattr(fit, "mode", "faithful"))
    pose_choice = str(getattr(fit, "pose_choice", "epnp"))
    lv = (np.asarray(fit.landmark_vertices) if fit_mode == "identity"
          else landmark_indices(model, -float(rvec[1])))
    verts = model.shape(alpha=alpha, expr=expr)
    if image_size is None:
        image_size = ((int(photo.shape[1]), int(photo.shape[0])) if photo is not None
                      else (0, 0))
    src = {"landmarks": "given", "shape": "landmarks", "bump": "flat"} | dict(sources)
    fit_name = ("identity fit (robust, jaw on the silhouette)" if fit_mode == "identity"
                else f"{fit_mode} ({pose_choice} pose)")
    src |= {"fit": fit_name,
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
        photo=photo, _depths=depths, model=model,
        raw_alpha=None if raw_alpha is None else np.asarray(raw_alpha, np.float64),
        mesh_mode=mesh_mode, registration=registration,
        landmark_quality=landmark_quality, color_mask=color_mask, color_left_out=left_out,
    )


def _field(obj: Any, name: str) -> Any:
    """Attribute or dict item `name` of a result object."""
    return obj[name] if isinstance(obj, dict) else getattr(obj, name)


def _lap(t0: float) -> float:
    """Seconds since t0."""
    return time.perf_counter() - t0
