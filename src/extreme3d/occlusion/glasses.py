"""Glasses rims: frames found as closed rings around the eyes.

The per-pixel cues of `segment` find dark lenses but miss clear glasses with dark frames:
a rim is a few pixels wide, and wrinkles, lashes and brows give the same local darkness.
What sets a rim apart is its shape, a closed loop around the eye. So, per eye and per kind of
rim (dark frames; white frames and shiny metal rims):

1. Line strength: the black-hat (dark) or top-hat (light) of the crop's lightness (Lab L,
   15 px disk), smoothed (sigma 1.5 px): high on thin structures up to ~15 px wide.
2. Rays: 64 directions around the eye centre (the mean of its six landmarks), in the frame of
   the eye's corner-to-corner axis, with 36 samples per ray from 0.7 to 1.9 eye widths (the
   vertical distances scaled by 0.75: rims are wider than tall).
3. Ring: the closed path (one sample per ray, neighbouring rays at most one sample apart) of
   largest summed strength, by dynamic programming around the circle.
4. Test (`TESTS`): the ring's 20th-percentile strength must reach a level (L units) and a
   multiple of the median strength over all the ray samples, around both eyes. A rim is
   strong all the way round; a wrinkled face is strong in places along any ring, and about
   as strong between the rings.
5. Region: along each ray, the samples next to the ring whose strength stays above `BAND` of
   the ring's there (at most `HALF_WIDTH` samples each side). The band between the inner and
   outer curves is the rim, kept inside the face mask.

6. Dark lenses (`with_lenses`, called by `fill.find_occluders`): when the cues found most of
   the inside of one rim, the insides of both join the occluders.
7. Temple arms (`temple_arm`): from each ring's outer point, the best open path of the same
   line map outward along the eye axis, kept while it stays strong and on the face; and the
   strongest such arm leaving the rim's upper outer corner (`corner_arm`), where most frames
   hold it.
8. Arms of dark lenses (`lens_arms`, called by `fill.find_occluders`): where the cues found a
   dark lens over an eye, the longest temple arm leaving it (tried from its outer edge at
   several heights: arms join lenses at a corner as often as at the middle) joins the
   occluders too; the black arms were left as notches at the mesh's temples. Also inside
   found rims (with 6's lenses): the thin metal arms of tinted lenses in light rims are dark
   lines on the skin, which 7's search at the rims' (light) level misses.
9. The other lens of a pair (`paired_lenses`, called by `fill.find_occluders` before 8): a
   lens seen edge-on over the far eye of a turned face covers little more than the eye, so
   the cues' components there are dropped as the eye itself (`segment.drop_feature_blobs`)
   or are a sliver. When the other eye has a dark lens, the cues' probability over this eye
   is thresholded lower (hysteresis); a dark lens there is the pair's second lens and joins
   the occluders.

10. Half-rim frames (`bridge_bar`): a dark bar across the nose between the eyes (no face
   without glasses has one: brows stop at the glabella) passes `BRIDGE_TEST`; the dark ring
   test is then `BRIDGED_DARK` (a strong top bar, a faint lower rim) and the bar joins the
   rims. Otherwise the bridge is left to the cues.
11. The bridge between two lenses or rims (`lens_bridge`, called by `fill.find_occluders`
   after the frames and arms): glasses hold their lenses together over the nose, but a thin
   metal or clear plastic bridge between two separate lens (or rim) regions was left on the
   nose's top. Between the two, from a little above the lenses' top to a little below the
   eyes' centre row, the open path of largest strength of each line map (dark, light) from
   one to the other, when it passes `LENS_BRIDGE_TEST`, joins the occluders where it crosses
   the gap, with the bar's own width (a white or metal bar and the shadow under it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

import extreme3d.occlusion.segment as sg

KERNEL_PX = 15  # black-/top-hat disk: the widest thin structure it responds to (crop px)
SMOOTH_PX = 1.5  # Gaussian sigma of the line maps (crop px)
RAYS = 64  # directions around each eye
SAMPLES = 36  # samples per ray
REACH = (0.7, 1.9)  # ray samples from / to, in eye widths (corner 36 to 39, or 42 to 45)
ASPECT = 0.75  # vertical reach relative to the horizontal one
# per kind of rim: the ring's 20th-percentile line strength must reach the first value (Lab L
# units, 0-255) and the second times the median strength over all ray samples
TESTS = {"dark": (15.0, 1.65), "light": (9.0, 1.45)}
#: A dark bar across the nose between the eyes (the bridge of a frame; `bridge_bar`): strength
#: and contrast of its best path. Once found, the dark ring test is BRIDGED_DARK (half-rim
#: frames: a strong top bar, a faint lower rim) and the bar joins the rims, BRIDGE_WIDTH_PX wide.
BRIDGE_TEST = (35.0, 2.3)
BRIDGED_DARK = (10.0, 1.4)
BRIDGE_WIDTH_PX = 3
BRIDGE_MIN_WIDTH = 0.25  # the box between the inner corners spans this share of the eye distance
BAND = 0.6  # rim samples: strength above this share of the ring's on the same ray
HALF_WIDTH = 2  # at most this many samples each side of the ring (about 0.07 eye widths)
LENS_SHARE = 0.6  # dark lenses: the inside of both rims is an occluder once the cues found
# this share of the inside of one of them
ARM_STEP_PX = 2.0  # temple arms: steps outward from the rim (crop px) ...
ARM_STEPS = 60  # ... at most this many (120 px)
ARM_DRIFT_PX = 12  # ... each within this distance across the eye axis of the rim's point
ARM_SHARE = 0.5  # arm samples: strength above this share of the ring's 20th percentile
ARM_WIDTH_PX = 5  # the arm is drawn this wide
ARM_MIN_STEPS = 5  # arms from lenses and rims' corners: at least this many steps (10 px) long
ARM_START_STEP_PX = 3.0  # ... tried from lines this far apart across the eye axis
CORNER_RISE = 0.3  # rims' corner arms: from lines this share of the eye's width above it, up
LENS_COVER = 0.8  # a dark lens covers this share of the eye's landmark polygon, at least
LENS_MIN_AREA = 4.0  # ... spans this many eye polygons, at least
LENS_DARK = 0.45  # ... and its median lightness is at most this share of the skin's
PAIR_THRESHOLD_SHARE = 0.65  # a pair's second lens (the other eye has a dark lens): the cues'
#                             probability above this share of their threshold (hysteresis) ...
PAIR_MAX_AREA = 1.5  # ... on its eye's side of the face, at most this many times the other lens
FRAME_SHARE = 0.1  # dark lenses without rims found are grown by this share of the eye's width
FRAME_DARK = 0.45  # ... and, through pixels this dark (share of the skin's lightness) or darker,
FRAME_REACH = 0.2  # ... by up to this share of the eye's width more (thick black frames)
LENS_BRIDGE_REACH = 0.15  # lens bridges: searched from this share of the eye distance above
#: the lenses' top
LENS_BRIDGE_MAX_GAP = 0.8  # ... between lenses at most this share of the eye distance apart
LENS_BRIDGE_HALF = 0.06  # ... the bar's rows at most this share of the eye distance off its path
#: ... and a map's path passes this test (`ring_score`: the 20th-percentile strength along
#: it, L units, and that over the search box's median): the bridges of the 68 images (7 crops
#: and photos with a gap between the lenses) score 15.6-61.5 at contrast 2.3-7.5 on the dark
#: map and 9.8-46.1 at 1.3-5.5 on the light one (the two lowest light ones fail; their dark
#: bar passes); skin between synthetic lenses 5.9-6.8 at 1.0-1.1
LENS_BRIDGE_TEST = (12.0, 1.3)
#: ... searched down to this share of the eye distance below the eyes' centre row (a low
#: plastic bridge and the shadow under it)
LENS_BRIDGE_BELOW = 0.15
EYES = ((36, 37, 38, 39, 40, 41), (42, 43, 44, 45, 46, 47))  # landmarks, corner first, 4th opposite


@dataclass(frozen=True)
class Rims:
    """The glasses rims found on a crop."""

    mask: np.ndarray  # (H, W) bool: rim pixels inside the face
    kinds: tuple[str, ...] = ()  # the kind of ring found: ("dark",), ("light",) or ()
    # per kind, per eye: (the ring's line strength, its contrast)
    scores: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    insides: list[np.ndarray] = field(default_factory=list)  # per eye: the rim's inner curve
    bridge: tuple[float, float] = (0.0, 0.0)  # the dark bar between the eyes: strength, contrast

    @property
    def found(self) -> bool:
        """Whether rims were found (of either kind)."""
        return bool(self.kinds)

    def record(self, face: np.ndarray) -> dict:
        """What params/<name>.json and summary.json record of it (face: the face mask)."""
        return {"found": self.found, "kinds": list(self.kinds),
                "fraction": sg.face_share(self.mask, face),
                "scores": {k: [[round(d, 1), round(c, 2)] for d, c in v]
                           for k, v in self.scores.items()},
                "bridge": [round(self.bridge[0], 1), round(self.bridge[1], 2)]}


def lightness(crop_bgr: np.ndarray) -> np.ndarray:
    """Lab lightness (H, W) uint8 of a BGR or grey uint8 crop."""
    img = crop_bgr if crop_bgr.ndim == 3 else cv2.cvtColor(crop_bgr, cv2.COLOR_GRAY2BGR)
    return cv2.cvtColor(np.ascontiguousarray(img, np.uint8), cv2.COLOR_BGR2Lab)[..., 0]


def line_maps(crop_bgr: np.ndarray, light: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Thin-structure maps (H, W) float32, Lab L units, of a BGR or grey uint8 crop: "dark",
    the smoothed black-hat of the lightness (dark rims), and "light", its top-hat (white or
    shiny metal rims). light: the crop's `lightness` when the caller has it."""
    light = lightness(crop_bgr) if light is None else light
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (KERNEL_PX, KERNEL_PX))
    out = {}
    for kind, op in (("dark", cv2.MORPH_BLACKHAT), ("light", cv2.MORPH_TOPHAT)):
        hat = cv2.morphologyEx(light, op, disk)  # uint8: integer L, exact
        out[kind] = cv2.GaussianBlur(hat.astype(np.float32), (0, 0), SMOOTH_PX)
    return out


def closed_paths(scores: np.ndarray) -> np.ndarray:
    """Sample index per ray (B, K) of the closed path of largest summed score through each of
    B (K, N) score tables: consecutive rays, and the last and first, at most one sample apart.
    Every start sample of every table is tried at once; on ties a path keeps its sample, then
    comes from the sample before (i - 1), then from the one after (i + 1)."""
    b, k, n = scores.shape
    starts = np.arange(n)
    total = np.full((b, n, n), -np.inf)  # [table, start, current sample]: best sum so far
    total[:, starts, starts] = scores[:, 0]
    back = np.zeros((k, b, n, n), np.int8)  # the step (-1, 0, +1) that led to each sample
    came = np.empty_like(total)
    for r in range(1, k):
        best = total.copy()
        for step in (-1, 1):  # from sample i - 1, then from sample i + 1
            came.fill(-np.inf)
            if step < 0:
                came[..., 1:] = total[..., :-1]
            else:
                came[..., :-1] = total[..., 1:]
            better = came > best
            np.copyto(best, came, where=better)
            back[r][better] = step
        total = best + scores[:, r, None, :]
    closes = np.abs(starts[None, :] - starts[:, None]) <= 1  # the last sample next to the start
    flat = np.where(closes, total, -np.inf).reshape(b, -1).argmax(axis=1)
    start, last = np.unravel_index(flat, (n, n))
    paths = np.empty((b, k), np.int64)
    paths[:, -1] = last
    tables = np.arange(b)
    for r in range(k - 1, 0, -1):
        paths[:, r - 1] = paths[:, r] + back[r, tables, start, paths[:, r]]
    return paths


def closed_path(scores: np.ndarray) -> np.ndarray:
    """`closed_paths` of one (K, N) table: (K,) sample indices."""
    return closed_paths(np.asarray(scores)[None])[0]


def eye_rays(landmarks: np.ndarray, eye: tuple[int, ...]) -> np.ndarray:
    """Ray sample positions (RAYS, SAMPLES, 2) crop px around one eye (see module)."""
    pts = np.asarray(landmarks, np.float64)
    centre = pts[list(eye)].mean(axis=0)
    axis = pts[eye[3]] - pts[eye[0]]
    width = float(np.hypot(*axis))
    c, s = axis / max(width, 1e-9)
    rot = np.array([[c, -s], [s, c]])
    theta = np.linspace(0.0, 2.0 * np.pi, RAYS, endpoint=False)
    reach = np.linspace(*REACH, SAMPLES) * width
    local = np.stack([np.cos(theta)[:, None] * reach, ASPECT * np.sin(theta)[:, None] * reach],
                     axis=-1)
    return local @ rot.T + centre


def band_extent(scores: np.ndarray, path: np.ndarray, half: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) sample index (K,) per step of a (K, N) table of the band around a path
    (one sample per step): the samples next to the path's whose score stays above BAND of the
    path's in that step, contiguous, at most `half` each side."""
    k, n = scores.shape
    steps = np.arange(k)
    level = BAND * scores[steps, path]
    ends = []
    for sign in (-1, 1):
        end, going = np.asarray(path).copy(), np.ones(k, bool)
        for d in range(1, half + 1):
            at = path + sign * d
            going &= (at >= 0) & (at < n)
            going[going] &= scores[steps[going], at[going]] > level[going]
            if not going.any():
                break
            end[going] = at[going]
        ends.append(end)
    return ends[0], ends[1]


def rim_band(rays: np.ndarray, scores: np.ndarray, path: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """(inner, outer) curves (RAYS, 2) crop px bounding the rim around a ring path
    (`band_extent`, HALF_WIDTH samples each side at most)."""
    first, last = band_extent(scores, path, HALF_WIDTH)
    steps = np.arange(len(path))
    return rays[steps, first], rays[steps, last]


def open_paths(scores: np.ndarray, start: np.ndarray) -> np.ndarray:
    """Sample index per step (B, K) of the open path of largest summed score through each of B
    (K, N) tables, starting at a sample where `start` (N,) is True, consecutive steps at most
    one sample apart (ties: the lower index)."""
    b, k, n = scores.shape
    total = np.where(start[None, :], scores[:, 0], -np.inf)
    back = np.zeros((k, b, n), np.int8)
    edge = np.full((b, 1), -np.inf)
    rows, cols = np.arange(b)[:, None], np.arange(n)[None, :]
    for r in range(1, k):
        options = np.stack([np.concatenate([edge, total[:, :-1]], axis=1), total,
                            np.concatenate([total[:, 1:], edge], axis=1)])
        step = options.argmax(axis=0)
        back[r] = step - 1
        total = options[step, rows, cols] + scores[:, r]
    paths = np.empty((b, k), np.int64)
    paths[:, -1] = np.argmax(total, axis=1)
    tables = np.arange(b)
    for r in range(k - 1, 0, -1):
        paths[:, r - 1] = paths[:, r] + back[r, tables, paths[:, r]]
    return paths


def open_path(scores: np.ndarray, start: np.ndarray) -> np.ndarray:
    """`open_paths` of one (K, N) table: (K,) sample indices."""
    return open_paths(np.asarray(scores)[None], np.asarray(start))[0]


def temple_arms(strength: np.ndarray, face: np.ndarray, starts: np.ndarray,
                outward: np.ndarray, level: float) -> list[np.ndarray]:
    """Per start point (B, 2) crop px, the points (M, 2) of the temple arm leaving a rim or lens
    there along the unit vector `outward`: the best open path of the line map over ARM_STEPS
    steps outward (drifting at most ARM_DRIFT_PX across), kept from the start while its strength
    stays above ARM_SHARE of `level` and it is on the face; (0, 2) when there is none."""
    starts = np.asarray(starts, np.float64).reshape(-1, 2)
    across = np.array([-outward[1], outward[0]])
    steps = np.arange(1, ARM_STEPS + 1) * ARM_STEP_PX
    drift = np.arange(-ARM_DRIFT_PX, ARM_DRIFT_PX + 1, dtype=np.float64)
    pts = (starts[:, None, None, :] + steps[None, :, None, None] * outward
           + drift[None, None, :, None] * across)  # (B, steps, drift, 2)
    flat = pts.reshape(-1, len(drift), 2)
    xy = (flat[..., 0].astype(np.float32), flat[..., 1].astype(np.float32))
    table = cv2.remap(strength, *xy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                      borderValue=0.0).astype(np.float64).reshape(pts.shape[:3])
    on_face = (cv2.remap(face.astype(np.uint8), *xy, cv2.INTER_NEAREST,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0) > 0).reshape(pts.shape[:3])
    paths = open_paths(table, np.abs(drift) <= 3)
    rows = np.arange(ARM_STEPS)
    out = []
    for i, path in enumerate(paths):
        keep = (table[i, rows, path] > ARM_SHARE * level) & on_face[i, rows, path]
        n = int(np.argmin(keep)) if not keep.all() else ARM_STEPS  # the run from the start
        out.append(pts[i, rows[:n], path[:n]])
    return out


def draw_arm(mask: np.ndarray, start: np.ndarray, arm: np.ndarray) -> None:
    """Draws (1, in place) a temple arm into a uint8 mask: the polyline from its start point
    through its points (crop px), ARM_WIDTH_PX wide."""
    cv2.polylines(mask, [np.round(np.vstack([np.asarray(start)[None], arm])).astype(np.int32)],
                  False, 1, ARM_WIDTH_PX)


def temple_arm(strength: np.ndarray, face: np.ndarray, start: np.ndarray, outward: np.ndarray,
               level: float) -> np.ndarray:
    """`temple_arms` from one start point: the arm's points (M, 2), (0, 2) when none."""
    return temple_arms(strength, face, np.asarray(start)[None], outward, level)[0]


def ring_tables(maps: dict[str, np.ndarray], rays: list[np.ndarray]) -> np.ndarray:
    """Strength tables (kinds x eyes, RAYS, SAMPLES) float64 of the line maps sampled at the
    eyes' rays (kinds in `TESTS` order, eyes in `EYES` order)."""
    return np.stack([
        cv2.remap(maps[kind], r[..., 0].astype(np.float32), r[..., 1].astype(np.float32),
                  cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0)
        for kind in TESTS for r in rays]).astype(np.float64)


def ring_score(table: np.ndarray, path: np.ndarray) -> tuple[float, float]:
    """(strength, contrast) of a ring path through its table: the 20th percentile of the
    strength along it, and that over the median of the whole table."""
    level = float(np.percentile(table[np.arange(len(path)), path], 20))
    return level, level / max(float(np.median(table)), 1.0)


def bridge_bar(strength: np.ndarray,
               landmarks: np.ndarray) -> tuple[np.ndarray, tuple[float, float]]:
    """The best dark bar across the nose between the eyes, as the bridge of a frame draws it:
    ((K, 2) crop px, one point per column, and its (strength, contrast) as `ring_score` gives
    them) in the box from the inner eye corners (39, 42; a tenth of their gap in from each) and
    from a tenth of the eye distance above the inner brows (21, 22) down to the lower inner
    corner; the open path of largest summed strength, one row per column, neighbouring columns
    at most one row apart. Brows stop at the glabella and wrinkles there run vertically, so only
    a frame keeps the path strong all the way across."""
    lm = np.asarray(landmarks, np.float64)
    none = np.zeros((0, 2)), (0.0, 0.0)
    if not np.isfinite(lm[[21, 22, *range(36, 48)]]).all():
        return none
    h, w = strength.shape
    gap = lm[42, 0] - lm[39, 0]
    d = float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))
    x0 = int(np.clip(np.ceil(lm[39, 0] + 0.1 * gap), 0, w - 1))
    x1 = int(np.clip(np.floor(lm[42, 0] - 0.1 * gap), 0, w - 1))
    y0 = int(np.clip(np.ceil(min(lm[21, 1], lm[22, 1]) - 0.1 * d), 0, h - 1))
    y1 = int(np.clip(np.floor(max(lm[39, 1], lm[42, 1])), 0, h - 1))
    if x1 - x0 < max(BRIDGE_MIN_WIDTH * d, 2) or y1 - y0 < 2:
        return none  # a few columns (a turned face, a clipped box) say nothing of a frame
    table = np.asarray(strength[y0 : y1 + 1, x0 : x1 + 1], np.float64).T  # columns x rows
    path = open_path(table, np.ones(table.shape[1], bool))
    points = np.stack([np.arange(x0, x1 + 1), y0 + path], axis=1).astype(np.float64)
    return points, ring_score(table, path)


def find_rims(crop_bgr: np.ndarray, landmarks: np.ndarray, face: np.ndarray,
              maps: dict[str, np.ndarray] | None = None) -> Rims:
    """The glasses rims on a crop (BGR or grey uint8), its 68 landmarks (crop px) and face mask
    (bool, the crop's shape): the rims of the first kind (dark, then light) whose closed ring
    passes the kind's test around both eyes (see module). Only one kind is taken: the light
    ring of a dark rim is its bright edge or a lens reflection beside it."""
    crop = np.asarray(crop_bgr)
    if face.shape != crop.shape[:2]:
        raise ValueError(f"face mask {face.shape} and crop {crop.shape[:2]} differ in size")
    lm = np.asarray(landmarks, np.float64)
    rays = [eye_rays(landmarks, eye) for eye in EYES]
    maps = line_maps(crop) if maps is None else maps
    tables = ring_tables(maps, rays)
    paths = closed_paths(tables)  # every kind and eye in one pass
    scores = {kind: [ring_score(tables[i], paths[i])
                     for i in range(j * len(EYES), (j + 1) * len(EYES))]
              for j, kind in enumerate(TESTS)}
    bar, bridge = bridge_bar(maps["dark"], landmarks)
    bridged = bridge[0] >= BRIDGE_TEST[0] and bridge[1] >= BRIDGE_TEST[1]
    tests = dict(TESTS, dark=BRIDGED_DARK) if bridged else TESTS
    mask = np.zeros(face.shape, np.uint8)
    for j, (kind, (min_strength, min_contrast)) in enumerate(tests.items()):
        if all(d >= min_strength and c >= min_contrast for d, c in scores[kind]):
            if kind == "dark" and bridged:
                cv2.polylines(mask, [np.round(bar).astype(np.int32)], False, 1, BRIDGE_WIDTH_PX)
            insides = []
            for e, r in enumerate(rays):
                i = j * len(EYES) + e
                inner, outer = rim_band(r, tables[i], paths[i])
                band = np.zeros(face.shape, np.uint8)
                cv2.fillPoly(band, [np.round(outer).astype(np.int32)], 1)
                cv2.fillPoly(band, [np.round(inner).astype(np.int32)], 0)
                ring = r[np.arange(RAYS), paths[i]]  # the ring itself: no gap where the band
                cv2.polylines(band, [np.round(ring).astype(np.int32)], True, 1, 3)  # is thin
                out = 0 if e == 1 else RAYS // 2  # the ray along the eye axis, away from the nose
                outward = r[out, -1] - r[out, 0]
                unit = outward / max(float(np.hypot(*outward)), 1e-9)
                arm = temple_arm(maps[kind], face, ring[out], unit, scores[kind][e][0])
                # most frames hold the arm at their upper outer corner, not at the eyes'
                # height: also the strongest arm leaving the rim's region there
                region = band.copy()
                cv2.fillPoly(region, [np.round(ring).astype(np.int32)], 1)
                corner = corner_arm(maps[kind], face, region > 0, lm[list(EYES[e])].mean(axis=0),
                                    unit, float(np.hypot(*(lm[EYES[e][3]] - lm[EYES[e][0]]))),
                                    scores[kind][e][0])
                if len(arm):
                    draw_arm(band, ring[out], arm)
                if corner is not None:
                    draw_arm(band, *corner)
                mask |= band
                insides.append(inner)
            on_face = mask.astype(bool) & face
            if on_face.any():
                return Rims(on_face, (kind,), scores, insides, bridge)
            break  # rims beside the face mask: nothing to mask
    return Rims(np.zeros(face.shape, bool), (), scores, bridge=bridge)


def with_lenses(core: np.ndarray, rims: Rims, face: np.ndarray) -> np.ndarray:
    """The occluder core (bool) with the inside of both rims added when the rims hold dark
    lenses: the cues found at least LENS_SHARE of the inside of one of them. Glasses come in
    pairs, so a lens the cues found only in part is taken whole. Clear glasses (the cues find
    little inside, 0-11% on the paper crops) keep their eyes."""
    if not rims.insides:
        return core
    insides = []
    for curve in rims.insides:
        inside = np.zeros(face.shape, np.uint8)
        cv2.fillPoly(inside, [np.round(curve).astype(np.int32)], 1)
        insides.append((inside > 0) & face)
    shares = [float((core & m).sum()) / max(int(m.sum()), 1) for m in insides]
    if max(shares) < LENS_SHARE:
        return core
    return core | np.logical_or.reduce(insides)


def describe_arms(info: dict | None) -> str:
    """One phrase for a result's extras["arms"]: "sunglasses arms (0.4% of the face)" when
    found, "" otherwise."""
    if not info or not info.get("found"):
        return ""
    return f"sunglasses arms ({100 * info.get('fraction', 0.0):.1f}% of the face)"


def describe_pair(info: dict | None) -> str:
    """One phrase for a result's extras["pair"]: "second sunglasses lens (2.4% of the face)"
    when found, "" otherwise."""
    if not info or not info.get("found"):
        return ""
    return f"second sunglasses lens ({100 * info.get('fraction', 0.0):.1f}% of the face)"


def describe_bridge(info: dict | None) -> str:
    """One phrase for a result's extras["bridge"]: "glasses bridge (0.3% of the face)" when
    found, "" otherwise."""
    if not info or not info.get("found"):
        return ""
    return f"glasses bridge ({100 * info.get('fraction', 0.0):.1f}% of the face)"


def describe(info: dict | None) -> str:
    """One phrase for a result's extras["rims"]: "glasses rims (3.1% of the face)" when found,
    "" otherwise."""
    if not info or not info.get("found"):
        return ""
    return f"glasses rims ({100 * info.get('fraction', 0.0):.1f}% of the face)"


@dataclass(frozen=True)
class LensArms:
    """Temple arms leaving the dark lenses of the occluder core (found by the cues, or inside
    found rims)."""

    mask: np.ndarray  # (H, W) bool: arm pixels inside the face
    eyes: tuple[int, ...] = ()  # the eyes (0: landmarks 36-41, 1: 42-47) whose lens has an arm

    @property
    def found(self) -> bool:
        """Whether an arm was found."""
        return bool(self.eyes)

    def record(self, face: np.ndarray) -> dict:
        """What params/<name>.json and summary.json record of it (face: the face mask)."""
        return {"found": self.found, "eyes": list(self.eyes),
                "fraction": sg.face_share(self.mask, face)}


def dark_lens(core: np.ndarray, labels: np.ndarray, eye: np.ndarray, lightness: np.ndarray,
              skin: float) -> np.ndarray | None:
    """The core's components over an eye (bool mask of its landmark polygon) when they make a
    dark lens: they cover LENS_COVER of the eye, span LENS_MIN_AREA eye polygons and their
    median lightness is at most LENS_DARK of the skin's (`skin`); else None."""
    area = int(eye.sum())
    if area == 0 or float((core & eye).sum()) < LENS_COVER * area:
        return None
    ids = np.unique(labels[eye & core])
    lens = np.isin(labels, ids[ids > 0])
    if lens.sum() < LENS_MIN_AREA * area or np.median(lightness[lens]) > LENS_DARK * skin:
        return None
    return lens


@dataclass(frozen=True)
class EyeRegions:
    """Occluder pixels found per eye (a second lens, the frames around dark lenses)."""

    mask: np.ndarray  # (H, W) bool: the pixels found
    eyes: tuple[int, ...] = ()  # the eyes (0: landmarks 36-41, 1: 42-47) where they were found

    def record(self, face: np.ndarray) -> dict:
        """What params/<name>.json and summary.json record of it (face: the face mask)."""
        return {"found": bool(self.eyes), "eyes": list(self.eyes),
                "fraction": sg.face_share(self.mask, face)}


class PairedLenses(EyeRegions):
    """Second lenses of sunglasses: dark lenses over an eye that the cues found but dropped as
    the eye itself, kept because the other eye has a dark lens (`paired_lenses`)."""


class LensFrames(EyeRegions):
    """The band around the dark lenses the cues found, where the frame sits (`lens_frames`)."""


@dataclass(frozen=True)
class EyeLenses:
    """The dark lenses of an occluder mask, per eye (`eye_lenses`)."""

    polys: list[np.ndarray]  # the eyes' landmark polygons, (H, W) bool, EYES order
    lenses: list[np.ndarray | None]  # per eye its `dark_lens`, or None
    skin: float = float("nan")  # the skin's median lightness (nan when nothing was measured)


def eye_lenses(core: np.ndarray, landmarks: np.ndarray, face: np.ndarray,
               light: np.ndarray) -> EyeLenses:
    """Per eye (EYES order), the `dark_lens` of the occluder mask `core` over it, or None; the
    skin's lightness is the median of `light` over the face outside `core`. Without an eye
    LENS_COVER under `core` (most faces) nothing more is computed."""
    polys = eye_polygons(landmarks, face.shape)
    none = EyeLenses(polys, [None] * len(polys))
    clean = face & ~core
    if not core.any() or not clean.any():
        return none
    if all((core & p).sum() < LENS_COVER * max(int(p.sum()), 1) for p in polys):
        return none
    skin = float(np.median(light[clean]))
    _, labels = cv2.connectedComponents(core.astype(np.uint8), connectivity=8)
    return EyeLenses(polys, [dark_lens(core, labels, p, light, skin) for p in polys], skin)


def dark_pixels(light: np.ndarray, skin: float, face: np.ndarray) -> np.ndarray:
    """(H, W) uint8 1 where the lightness is at most FRAME_DARK of the skin's (`skin`, Lab L)
    inside the face: as dark as a black frame."""
    return ((light <= FRAME_DARK * skin) & face).astype(np.uint8)


def follow_dark(seed: np.ndarray, dark: np.ndarray, steps: int) -> np.ndarray:
    """`seed` ((H, W) uint8 0/1) grown through the pixels of `dark` (uint8 0/1), one ring of
    8-neighbours at a time, `steps` times at most (fewer when nothing more is reached), in the
    seed's box grown by the steps."""
    out = seed.copy()
    if steps <= 0 or not out.any():
        return out
    x, y, w, h = cv2.boundingRect(out)
    box = np.s_[max(y - steps - 1, 0) : y + h + steps + 1,
                max(x - steps - 1, 0) : x + w + steps + 1]
    part, near = out[box], dark[box]
    for _ in range(steps):
        more = cv2.dilate(part, np.ones((3, 3), np.uint8)) & near | part
        if np.array_equal(more, part):
            break
        part = more
    out[box] = part
    return out


def lens_frames(core: np.ndarray, landmarks: np.ndarray, face: np.ndarray,
                light: np.ndarray, share: float = FRAME_SHARE,
                lenses: EyeLenses | None = None) -> LensFrames:
    """The frames around the dark lenses of `core` (bool, crop px; no rims found): each lens
    grown by `share` of its eye's corner-to-corner width, then on through pixels no lighter
    than FRAME_DARK of the skin's lightness by up to FRAME_REACH eye widths more (rings of
    8-neighbours: up to about 1.4 times that along diagonals; a thick black frame), less
    `core`, inside the face. The cues take the dark glass, not the frame around it (clear,
    tortoiseshell, thin metal or thick black plastic), whose top bar stayed as a band across
    the brows of the final mesh. lenses: `core`'s `eye_lenses` when the caller has them."""
    lm = np.asarray(landmarks, np.float64)
    found = eye_lenses(core, lm, face, light) if lenses is None else lenses
    mask = np.zeros(face.shape, np.uint8)
    eyes = []
    dark = None
    for e, lens in enumerate(found.lenses):
        width = float(np.linalg.norm(lm[EYES[e][3]] - lm[EYES[e][0]]))
        r = int(round(share * width))
        if lens is None or r < 1:
            continue
        grown = cv2.dilate(lens.astype(np.uint8), sg.disk(r))
        # a thick black frame goes on past that band: followed through dark pixels
        steps = int(round(FRAME_REACH * width))
        if steps > 0:
            if dark is None:
                dark = dark_pixels(light, found.skin, face)
            grown = follow_dark(grown, dark, steps)
        mask |= grown
        eyes.append(e)
    return LensFrames(mask.astype(bool) & face & ~core, tuple(eyes))


@dataclass(frozen=True)
class LensBridge:
    """The bridge between two lenses or rims (`lens_bridge`)."""

    mask: np.ndarray  # (H, W) bool: bridge pixels inside the face, outside the core

    @property
    def found(self) -> bool:
        """Whether a bridge was drawn."""
        return bool(self.mask.any())

    def record(self, face: np.ndarray) -> dict:
        """What params/<name>.json and summary.json record of it (face: the face mask)."""
        return {"found": self.found, "fraction": sg.face_share(self.mask, face)}


def rim_regions(rims: Rims, shape: tuple[int, int]) -> list[np.ndarray | None]:
    """Per eye, the inside of a found rim grown by HALF_WIDTH + 1 px onto the rim itself
    ((H, W) bool, crop px), or None for both eyes when the rims were not found around both."""
    if not rims.found or len(rims.insides) != len(EYES):
        return [None] * len(EYES)
    out = []
    for inner in rims.insides:
        region = np.zeros(shape, np.uint8)
        cv2.fillPoly(region, [np.round(inner).astype(np.int32)], 1)
        out.append(cv2.dilate(region, sg.disk(HALF_WIDTH + 1)).astype(bool))
    return out


def lens_bridge(maps: dict[str, np.ndarray], landmarks: np.ndarray, core: np.ndarray,
                face: np.ndarray, regions: list[np.ndarray | None]) -> LensBridge:
    """The bridge between two lenses, `regions` (per eye in EYES order, (H, W) bool, crop px:
    the dark lenses of `eye_lenses`, or the insides of found rims, `rim_regions`): across the
    gap between the core's regions that hold the two, in the rows from LENS_BRIDGE_REACH of
    the eye distance above the lenses' top down to LENS_BRIDGE_BELOW below the eyes' centre
    row, the bar of each of `maps`' dark and light line maps (`_bridge_bar_rows`: a white or
    metal bar and the shadow under it, a black one), outside `core` and inside the face.
    Nothing when a lens is missing, the core already joins the two, the gap is wider than
    LENS_BRIDGE_MAX_GAP eye distances, or neither map's path passes LENS_BRIDGE_TEST."""
    none = LensBridge(np.zeros(face.shape, bool))
    lm = np.asarray(landmarks, np.float64)
    if len(regions) != 2 or any(r is None for r in regions) or not np.isfinite(lm[36:48]).all():
        return none
    _, labels = cv2.connectedComponents(core.astype(np.uint8), connectivity=8)
    held = [np.unique(labels[r & core]) for r in regions]
    if not all((ids > 0).any() for ids in held):
        return none
    sides = [np.isin(labels, ids[ids > 0]) for ids in held]
    if (sides[0] & sides[1]).any():
        return none  # one region holds both lenses (a shield, or the bridge found already)
    h, w = face.shape
    d = float(np.linalg.norm(lm[42:48].mean(axis=0) - lm[36:42].mean(axis=0)))
    top = min(int(np.nonzero(r)[0].min()) for r in regions)
    y0 = int(np.clip(np.floor(top - LENS_BRIDGE_REACH * d), 0, h - 1))
    y1 = int(np.clip(np.ceil(lm[36:48, 1].mean() + LENS_BRIDGE_BELOW * d), 0, h - 1))
    if y1 - y0 < 2:
        return none
    cols = [np.nonzero(side[y0 : y1 + 1].any(axis=0))[0] for side in sides]
    if not all(len(c) for c in cols):
        return none
    x0, x1 = int(cols[0].max()), int(cols[1].min())
    if x1 - x0 < 2 or x1 - x0 > LENS_BRIDGE_MAX_GAP * d:
        return none  # touching, overlapping in columns, or too far apart for one nose
    box = np.s_[y0 : y1 + 1, x0 : x1 + 1]
    mask = np.zeros(face.shape, np.uint8)
    half = max(int(round(LENS_BRIDGE_HALF * d)), 1)
    for kind in TESTS:  # a dark bar and a light one (a white or metal bar, the shadow under it)
        bar = _bridge_bar_rows(maps[kind][box].astype(np.float64), half)
        if bar is not None:
            mask[box] |= bar
    if not mask.any():
        return none  # no bar across the gap (its bridge elsewhere, or no glasses)
    return LensBridge(mask.astype(bool) & face & ~core)


def _bridge_bar_rows(strength: np.ndarray, half: int) -> np.ndarray | None:
    """(rows, cols) uint8 mask of the bar in one line map's search box (rows x columns): the
    open path of largest strength across the columns (one row per column, neighbouring
    columns at most one row apart) drawn BRIDGE_WIDTH_PX wide, with its band (`band_extent`:
    up to `half` rows each side, as a rim's); None when the path fails LENS_BRIDGE_TEST."""
    path = open_path(strength.T, np.ones(strength.shape[0], bool))
    line, contrast = ring_score(strength.T, path)
    if line < LENS_BRIDGE_TEST[0] or contrast < LENS_BRIDGE_TEST[1]:
        return None
    cols = np.arange(strength.shape[1])
    out = np.zeros(strength.shape, np.uint8)
    cv2.polylines(out, [np.stack([cols, path], axis=1).astype(np.int32)], False, 1,
                  BRIDGE_WIDTH_PX)
    first, last = band_extent(strength.T, path, half)  # the bar's own width
    rows = np.arange(strength.shape[0])[:, None]
    out[(rows >= first) & (rows <= last)] = 1
    return out


def eye_polygons(landmarks: np.ndarray, shape: tuple[int, int]) -> list[np.ndarray]:
    """The two eyes' landmark polygons (EYES order) as (H, W) bool masks, crop px."""
    polys = []
    for eye in EYES:
        poly = np.zeros(shape, np.uint8)
        cv2.fillPoly(poly, [np.rint(np.asarray(landmarks, np.float64)[list(eye)])
                            .astype(np.int32)], 1)
        polys.append(poly > 0)
    return polys


def paired_lenses(prob: np.ndarray, threshold: float, core: np.ndarray, landmarks: np.ndarray,
                  face: np.ndarray, light: np.ndarray,
                  lenses: EyeLenses | None = None) -> PairedLenses:
    """The second lenses of sunglasses (bool masks, crop px): for the eye without a `dark_lens`
    in `core` (the cues' occluders, bool) while the other eye has one, the `dark_lens` over it
    of the cues' probability `prob` (500x500) above PAIR_THRESHOLD_SHARE of their `threshold`
    (`segment.segment`, the eyes not dropped), kept on that eye's side of the face (beyond the
    midpoint of the eye centres) and outside `core`; not kept when it is larger than
    PAIR_MAX_AREA times the other lens (the lower threshold ran into hair or shadow). A lens
    seen edge-on over the far eye of a turned face covers little more than the eye: its part
    above the threshold was dropped as the eye itself, or is a sliver. light, lenses: the
    crop's `lightness`, and `core`'s `eye_lenses` when the caller has them."""
    none = PairedLenses(np.zeros(face.shape, bool))
    found = eye_lenses(core, landmarks, face, light) if lenses is None else lenses
    if (found.lenses[0] is None) == (found.lenses[1] is None):
        return none  # no dark lens (most faces), or one on each eye
    e = 0 if found.lenses[0] is None else 1  # the eye without a lens
    near = found.lenses[1 - e]
    low = sg.segment(prob, face, PAIR_THRESHOLD_SHARE * threshold, grow=0)
    _, low_labels = cv2.connectedComponents(low.astype(np.uint8), connectivity=8)
    lens = dark_lens(low, low_labels, found.polys[e], light, found.skin)
    if lens is None:
        return none
    lm = np.asarray(landmarks, np.float64)
    c_far, c_near = lm[list(EYES[e])].mean(axis=0), lm[list(EYES[1 - e])].mean(axis=0)
    ys, xs = np.mgrid[0 : face.shape[0], 0 : face.shape[1]]
    mid, axis = 0.5 * (c_far + c_near), c_far - c_near
    lens &= ((xs - mid[0]) * axis[0] + (ys - mid[1]) * axis[1] > 0) & ~core
    if not lens.any() or lens.sum() > PAIR_MAX_AREA * near.sum():
        return none
    return PairedLenses(lens, (e,))


def _arm_starts(lens: np.ndarray, centre: np.ndarray, outward: np.ndarray, width: float,
                offsets: np.ndarray) -> np.ndarray:
    """(K, 2) crop px: where the lines parallel to the eye axis through `centre` + offset x
    (the eye axis turned a quarter; the unit vector `outward` along it) leave the `lens` (bool
    mask), for the lines (of `offsets`, px) that start in it and leave it within 4 `width`s."""
    h, w = lens.shape
    across = np.array([-outward[1], outward[0]])
    t = np.arange(0.0, 4.0 * width, 1.0)
    lines = centre + offsets[:, None, None] * across + t[None, :, None] * outward
    xs, ys = np.rint(lines[..., 0]).astype(int), np.rint(lines[..., 1]).astype(int)
    inside = (xs >= 0) & (xs < w) & (ys >= 0) & (ys < h)
    on = np.zeros(xs.shape, bool)
    on[inside] = lens[ys[inside], xs[inside]]
    usable = on[:, 0] & ~on.all(axis=1)  # lines that start in the lens and leave it
    starts = lines[np.arange(len(offsets)), np.argmin(on, axis=1)]  # first points past the lens
    return starts[usable]


def lens_arm(strength: np.ndarray, face: np.ndarray, lens: np.ndarray, centre: np.ndarray,
             outward: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray] | None:
    """(start, arm points) of the longest temple arm (`temple_arm`, at the dark rims' level)
    leaving a lens (bool mask) along the unit vector `outward`: tried from where lines parallel
    to the eye axis, every ARM_START_STEP_PX up to one eye `width` either side of the eye
    `centre`, leave the lens (an arm joins the lens at its top or bottom corner as often as at
    its middle); None when no arm reaches ARM_MIN_STEPS steps."""
    starts = _arm_starts(lens, centre, outward, width,
                         np.arange(-width, width + 1e-9, ARM_START_STEP_PX))
    if not len(starts):
        return None
    arms = temple_arms(strength, face, starts, outward, TESTS["dark"][0])
    longest = max(range(len(arms)), key=lambda i: len(arms[i]))  # the first of the longest
    if len(arms[longest]) < ARM_MIN_STEPS:
        return None
    return starts[longest], arms[longest]


def corner_arm(strength: np.ndarray, face: np.ndarray, rim: np.ndarray, centre: np.ndarray,
               outward: np.ndarray, width: float, level: float
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """(start, arm points) of the temple arm leaving a rim's upper outer corner, where most
    frames hold it: tried from where lines parallel to the eye axis, every ARM_START_STEP_PX
    from CORNER_RISE to one eye `width` above the eye `centre` (image up), leave the rim's
    region (`rim`: its band and what it encloses, bool); of the arms (`temple_arms` at
    `level`, the ring's strength) of ARM_MIN_STEPS steps or more, the one of largest summed
    line strength; None when there is none. (`find_rims`' own arm starts at the eyes' height
    and there may follow the arm's shadow.)"""
    across = np.array([-outward[1], outward[0]])
    up = -1.0 if across[1] > 0 else 1.0  # the sign of the offsets that move up the image
    offsets = up * np.arange(CORNER_RISE * width, width + 1e-9, ARM_START_STEP_PX)
    starts = _arm_starts(rim, centre, outward, width, offsets)
    if not len(starts):
        return None
    arms = temple_arms(strength, face, starts, outward, level)
    sums = [float(cv2.remap(strength, a[:, 0].astype(np.float32)[None],
                            a[:, 1].astype(np.float32)[None], cv2.INTER_LINEAR).sum())
            if len(a) >= ARM_MIN_STEPS else -np.inf for a in arms]
    best = int(np.argmax(sums))  # the first of the strongest
    if not np.isfinite(sums[best]):
        return None
    return starts[best], arms[best]


def lens_arms(crop_bgr: np.ndarray, landmarks: np.ndarray, core: np.ndarray,
              face: np.ndarray, light: np.ndarray | None = None,
              maps: dict[str, np.ndarray] | None = None,
              lenses: EyeLenses | None = None) -> LensArms:
    """The temple arms of sunglasses whose dark lenses the cues found (`core`, bool) on a crop
    (BGR or grey uint8) with its 68 landmarks and face mask: per eye with a `dark_lens`, its
    `lens_arm` outward along the eye axis, drawn ARM_WIDTH_PX wide (inside the face). For
    glasses whose rims were found, `find_rims` draws the arms it finds at the rims' level (dark
    or light lines); `fill.find_occluders` also calls this with the lenses inside found rims
    (thin metal arms of tinted lenses are dark on the skin). light, maps, lenses: the
    crop's `lightness` and `line_maps`, and `core`'s `eye_lenses`, when the caller has them."""
    lm = np.asarray(landmarks, np.float64)
    img = np.asarray(crop_bgr)
    light = lightness(img) if light is None else light
    found = eye_lenses(core, lm, face, light) if lenses is None else lenses
    strength = None
    mask = np.zeros(face.shape, np.uint8)
    eyes = []
    for e, (eye, lens) in enumerate(zip(EYES, found.lenses, strict=True)):
        if lens is None:
            continue
        if strength is None:
            strength = (line_maps(img, light) if maps is None else maps)["dark"]
        axis = lm[eye[0]] - lm[eye[3]] if e == 0 else lm[eye[3]] - lm[eye[0]]  # away from nose
        width = float(np.hypot(*axis))
        arm = lens_arm(strength, face, lens, lm[list(eye)].mean(axis=0),
                       axis / max(width, 1e-9), width)
        if arm is not None:
            draw_arm(mask, *arm)
            eyes.append(e)
    return LensArms(mask.astype(bool) & face, tuple(eyes))
