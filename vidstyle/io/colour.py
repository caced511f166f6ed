"""Colour management through OpenColorIO (issue 22): colour spaces, the view the network sees, and
a way back that keeps a plate's highlights above 1.0.

This module owns the idea; everything else only carries its results. docs/VFX_COLOUR.md is the
user's version of what follows.

Config
    ``$OCIO`` when set (a config file, or an ``ocio://`` URI), as every VFX application does;
    otherwise OpenColorIO's built-in ACES CG config (:data:`BUILTIN_CONFIG`), which ships inside
    the ``opencolorio`` wheel, so nothing is downloaded.

Which pixels are managed
    EXR (scene-linear) inputs always; any other input only when a colour option is given. An 8/16-bit
    file with no colour option keeps the plain path of :mod:`vidstyle.io.image` (its pixels, as
    stored, are what the network sees; nothing changes for PNG, JPEG or TIFF users). A managed
    8/16-bit file's default colour space is the config's sRGB texture space (interop id
    ``srgb_rec709_scene``).

Input colour space (``--colorspace``, default)
    the EXR's ``chromaticities`` attribute when present (matched to the config's linear space with
    those primaries: Rec.709, ACES AP1 or AP0, Rec.2020, P3-D65), else the config's
    ``scene_linear`` role for EXR, sRGB for 8/16-bit files.

Forward (source side, :meth:`PlateColour.to_working`)
    ``linear = input -> scene_linear`` (the plate, carried with the frame to the sink), and
    ``W = clip(view(linear), 0, 1)``: OCIO's display/view transform (the config's default display
    and view, or ``--display`` / ``--view``). In the built-in config that is ACES 2.0 SDR 100 nits
    on an sRGB display, which maps the whole range (scene 16.0 is display 0.975) instead of
    clipping it. Non-finite plate values become 0 (NaN) or +-65504 (the half range) first.

Back (sink side, :meth:`PlateColour.restore`), per pixel and channel, all in scene_linear:

    L(x)   = inverse_view(min(x, c)) + s * max(x - c, 0)
    change = L(S) - L(W)
    t      = clip(log2(max channel of the plate) + 1, 0, 1)
    O      = P + (1 - t) * change + t * P * ((S + e) / (W + e) - 1)
    O      = max(O, min(P, 0))

with ``S`` the stylised image, ``W`` the view of the plate ``P`` as the network saw it, ``c`` the
view's display value of scene-linear 1.0 (diffuse white; 0.707 for ACES 2.0 SDR) and ``s`` the
slope of the inverse view there, and ``e`` = :data:`RATIO_FLOOR`. Why this and not simply
``inverse_view(S)``:

- With ``S == W`` (no stylisation) both changes are exactly 0, so ``O`` is the plate, bit for bit,
  whatever the view does: the ACES 2.0 view is not exactly invertible (its inverse gives 1.94, not
  16.0, for a saturated red at 16.0, and clamps at 128).
- Below diffuse white (t = 0) the output is the plate plus the network's change in scene-linear
  light: through the view it shows what the network painted.
- The inverse view is steep near display 1.0 (0.975 -> 16, 1.0 -> 128), so the plain inverse
  made every white stroke the network painted a light of 128 and let a slightly darker stroke put
  out a lamp. ``L`` follows the inverse up to diffuse white and continues with its slope (C1) above:
  a white stroke on a grey wall comes back at 2.6, not 128.
- The plate's highlights (t = 1, any channel at or above 1.0) keep the plate's own dynamic range:
  their change is the ratio of the stylised to the tone-mapped value (on display codes), applied to
  the plate, so a lamp of 16.0 painted 20 % darker comes back near 13, not near 1. ``e`` keeps that
  ratio finite where the view shows a channel as black (it can lift such a channel at most 11x).
  From 0.5 to 1.0 the two blend in log2 steps, so there is no seam.
- Negative values (out-of-gamut colours of the working space) are not shown to the network (the view
  maps them to black); they come back as they were plus the network's change, and the tool makes
  none of its own: a channel the plate had at or above 0 never comes back below 0, a negative one
  never more negative than it was.

Output colour space (``--output-colorspace``, default the input's); an 8/16-bit output of an EXR
input with no ``--output-colorspace`` gets the display-referred stylised image (what the display
shows, as a video output does), not scene-linear values an integer file cannot hold.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import UsageError
from ..frames import Plate, resize, resize_linear
from .image import Chromaticities, ImageFormat, RawImage

if TYPE_CHECKING:
    from ..config import StyleConfig

__all__ = [
    "BUILTIN_CONFIG", "ColourError", "ColourOptions", "HALF_MAX", "PlateColour", "RATIO_FLOOR", "colorspace_for_chromaticities",
    "load_config", "plate_colour", "restore_dynamic_range",
]

# OpenColorIO's built-in ACES CG config: ships in the wheel (no download), ACES 2.0 views.
BUILTIN_CONFIG = "ocio://cg-config-latest"
# The largest finite half float: where a plate's infinities go, so every value stays finite.
HALF_MAX = 65504.0
# ``e`` of the highlight ratio (module docstring): bounds the lift of a channel shown as black.
RATIO_FLOOR = 0.1
# The blend from "the network's change" to "the plate's ratio": log2 of the plate's brightest
# channel from -1 (0.5) to 0 (1.0, scene-linear diffuse white).
_HIGHLIGHT_FROM = 0.5

# Primaries and white point (CIE xy: red, green, blue, white) of the linear spaces an EXR's
# chromaticities are matched to, with the colour space names that carry them: the interop ids of the
# ACES configs first, then the names and aliases other configs use.
_PRIMARIES: tuple[tuple[tuple[float, ...], tuple[str, ...]], ...] = (
    ((0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290),
     ("lin_rec709_scene", "Linear Rec.709 (sRGB)", "lin_rec709_srgb", "lin_rec709", "lin_srgb", "Utility - Linear - sRGB")),
    ((0.713, 0.293, 0.165, 0.830, 0.128, 0.044, 0.32168, 0.33767),
     ("lin_ap1_scene", "ACEScg", "lin_ap1", "ACES - ACEScg")),
    ((0.7347, 0.2653, 0.0, 1.0, 0.0001, -0.077, 0.32168, 0.33767),
     ("lin_ap0_scene", "ACES2065-1", "lin_ap0", "aces2065_1", "ACES - ACES2065-1")),
    ((0.708, 0.292, 0.170, 0.797, 0.131, 0.046, 0.3127, 0.3290),
     ("lin_rec2020_scene", "Linear Rec.2020", "lin_rec2020", "Utility - Linear - Rec.2020")),
    ((0.680, 0.320, 0.265, 0.690, 0.150, 0.060, 0.3127, 0.3290),
     ("lin_p3d65_scene", "Linear P3-D65", "lin_p3d65", "Utility - Linear - P3-D65")),
)
# Chromaticities written by different tools differ in the fourth decimal (AP1's green is 0.165 or
# 0.16500001); a wrong match would be a wrong colour, so no more than this.
_CHROMATICITY_TOLERANCE = 2e-3
_SRGB_TEXTURE = ("srgb_rec709_scene", "sRGB Encoded Rec.709 (sRGB)", "srgb_texture", "srgb_tx", "sRGB - Texture",
                 "Utility - sRGB - Texture")


class ColourError(UsageError):
    """A colour option or config that cannot be used; the one-line message says why."""


@dataclass(frozen=True)
class ColourOptions:
    """The colour settings of a render, by name (resolved against the config when it is loaded);
    None: the default the module docstring gives."""

    colorspace: str | None = None
    output_colorspace: str | None = None
    display: str | None = None
    view: str | None = None

    @classmethod
    def from_config(cls, config: "StyleConfig") -> "ColourOptions":
        return cls(config.colorspace, config.output_colorspace, config.display, config.view)

    @property
    def given(self) -> bool:
        """Whether any option was given (an 8/16-bit input is managed only then)."""
        return any(v is not None for v in (self.colorspace, self.output_colorspace, self.display, self.view))


@dataclass(frozen=True)
class LoadedConfig:
    """An OCIO config and where it came from (``$OCIO`` or the built-in URI)."""

    config: Any  # PyOpenColorIO.Config (the bindings ship no type information)
    source: str

    @property
    def name(self) -> str:
        return str(self.config.getName())


def load_config() -> LoadedConfig:
    """The config of ``$OCIO``, else :data:`BUILTIN_CONFIG`; loaded once per value of ``$OCIO``.

    Raises:
        ColourError: ``$OCIO`` names a file OCIO cannot load (the message names it).
    """
    return _load(os.environ.get("OCIO", "").strip() or BUILTIN_CONFIG)


@lru_cache(maxsize=4)
def _load(source: str) -> LoadedConfig:
    import PyOpenColorIO as ocio

    try:
        config = ocio.Config.CreateFromFile(source)
        config.validate()
    except Exception as error:  # noqa: BLE001 - OCIO raises its own Exception type for every failure
        where = "$OCIO" if source != BUILTIN_CONFIG else "the built-in config"
        raise ColourError(f"cannot load the OCIO config {source} ({where}): {_one_line(error)}") from None
    return LoadedConfig(config, source)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _names(config: Any) -> list[str]:
    """Every colour space name and alias of ``config``, names first."""
    spaces = list(config.getColorSpaces())
    return [cs.getName() for cs in spaces] + [alias for cs in spaces for alias in cs.getAliases()]


def closest(name: str, candidates: list[str], count: int = 5) -> list[str]:
    """The candidates closest to ``name`` (difflib, case-insensitive), best first; never empty when
    there are candidates (the first ones then)."""
    lowered = {c.lower(): c for c in reversed(candidates)}
    found = difflib.get_close_matches(name.lower(), list(lowered), n=count, cutoff=0.4)
    # A name that contains what was typed ("acescg" in "ACES - ACEScg") is close too.
    found += [c for c in lowered if name.lower() in c and c not in found]
    return [lowered[c] for c in found[:count]] or candidates[:count]


def resolve_colorspace(loaded: LoadedConfig, name: str, option: str) -> str:
    """The config's own name for colour space ``name`` (a name, an alias or a role).

    Raises:
        ColourError: no such colour space: one line listing the closest names.
    """
    space = loaded.config.getColorSpace(name)
    if space is None:
        names = _names(loaded.config)
        raise ColourError(f"{option}: no colour space {name!r} in the OCIO config {loaded.name} ({loaded.source}); "
                          f"closest: {', '.join(repr(n) for n in closest(name, names))}")
    return str(space.getName())


def resolve_view(loaded: LoadedConfig, display: str | None, view: str | None) -> tuple[str, str]:
    """(display, view): the given ones checked against the config, else its defaults."""
    config = loaded.config
    displays = list(config.getDisplays())
    if display is None:
        display = str(config.getDefaultDisplay())
    elif display not in displays:
        raise ColourError(f"--display: no display {display!r} in the OCIO config {loaded.name}; "
                          f"closest: {', '.join(repr(n) for n in closest(display, displays))}")
    views = list(config.getViews(display))
    if view is None:
        view = str(config.getDefaultView(display))
    elif view not in views:
        raise ColourError(f"--view: no view {view!r} for display {display!r} in the OCIO config {loaded.name}; "
                          f"closest: {', '.join(repr(n) for n in closest(view, views))}")
    if not view:
        raise ColourError(f"the OCIO config {loaded.name} has no view for display {display!r}; give --view")
    return display, view


def _find(loaded: LoadedConfig, candidates: tuple[str, ...]) -> str | None:
    """The first of ``candidates`` the config knows, as a name, alias or interop id."""
    for name in candidates:
        space = loaded.config.getColorSpace(name)
        if space is not None:
            return str(space.getName())
    for space in loaded.config.getColorSpaces():
        if space.getInteropID() in candidates:
            return str(space.getName())
    return None


def colorspace_for_chromaticities(loaded: LoadedConfig, chromaticities: Chromaticities) -> str | None:
    """The config's linear colour space with these primaries and white point, or None."""
    for primaries, names in _PRIMARIES:
        if max(abs(a - b) for a, b in zip(primaries, chromaticities)) <= _CHROMATICITY_TOLERANCE:
            return _find(loaded, names)
    return None


def chromaticities_of(loaded: LoadedConfig, name: str) -> Chromaticities | None:
    """The chromaticities to write in an EXR of colour space ``name`` (a linear space of the table),
    so that a reader (this tool included) knows its primaries; None for any other space."""
    for primaries, names in _PRIMARIES:
        if _find(loaded, names) == name:
            return primaries  # type: ignore[return-value]  # eight floats each
    return None


def _scene_linear(loaded: LoadedConfig) -> str:
    import PyOpenColorIO as ocio

    space = loaded.config.getColorSpace(ocio.ROLE_SCENE_LINEAR) if loaded.config.hasRole(ocio.ROLE_SCENE_LINEAR) else None
    if space is None:
        raise ColourError(f"the OCIO config {loaded.name} ({loaded.source}) has no scene_linear role; "
                          "the tool restores highlights in it")
    return str(space.getName())


def _input_colorspace(loaded: LoadedConfig, options: ColourOptions, raw: RawImage, path: str) -> str:
    """``--colorspace``, else the default for this file (module docstring)."""
    if options.colorspace is not None:
        return resolve_colorspace(loaded, options.colorspace, "--colorspace")
    if raw.format.ext == "exr":
        if raw.chromaticities is None:
            return _scene_linear(loaded)
        found = colorspace_for_chromaticities(loaded, raw.chromaticities)
        if found is None:
            shown = ", ".join(f"{v:.4g}" for v in raw.chromaticities)
            raise ColourError(f"{path}: its chromaticities ({shown}) match no colour space of the OCIO config "
                              f"{loaded.name}; name it with --colorspace")
        return found
    found = _find(loaded, _SRGB_TEXTURE)
    if found is None:
        raise ColourError(f"the OCIO config {loaded.name} has no sRGB texture colour space for {path}; name its "
                          "colour space with --colorspace")
    return found


def _apply(processor: Any, values: np.ndarray) -> np.ndarray:
    """``processor`` applied to a copy of float32 (..., 3) ``values``."""
    out = np.array(values, dtype=np.float32, order="C", copy=True)
    if out.size:
        processor.applyRGB(out.reshape(-1, 3))
    return out


class PlateColour:
    """The colour pipeline of one input: from its files to the network's image and back.

    Built by :func:`plate_colour` from the first frame; the output side is chosen with
    :meth:`for_output`. The methods are pure functions of arrays (OCIO processors are
    thread-safe, so the source's thread and the sink's may share one)."""

    def __init__(self, loaded: LoadedConfig, colorspace: str, display: str, view: str,
                 output_colorspace: str | None = "", scene_referred_input: bool = True):
        import PyOpenColorIO as ocio

        self.loaded = loaded
        self.colorspace = colorspace
        self.scene_linear = _scene_linear(loaded)
        self.display, self.view = display, view
        self.scene_referred_input = scene_referred_input
        # "" = the input's own; None = the display-referred image (an integer file of an EXR plate).
        self.output_colorspace: str | None = colorspace if output_colorspace == "" else output_colorspace
        config = loaded.config
        try:
            self._to_linear = config.getProcessor(colorspace, self.scene_linear).getDefaultCPUProcessor()
            transform = ocio.DisplayViewTransform(src=self.scene_linear, display=display, view=view)
            self._view = config.getProcessor(transform).getDefaultCPUProcessor()
            self._inverse = config.getProcessor(transform, ocio.TRANSFORM_DIR_INVERSE).getDefaultCPUProcessor()
            out = self.output_colorspace or self.scene_linear
            self._from_linear = config.getProcessor(self.scene_linear, out).getDefaultCPUProcessor()
            self._to_linear_from_output = config.getProcessor(out, self.scene_linear).getDefaultCPUProcessor()
        except Exception as error:  # noqa: BLE001 - OCIO's own exception type
            raise ColourError(f"OCIO cannot convert {colorspace} through {display} / {view}: {_one_line(error)}") from None
        grey = np.ones((1, 3), np.float32)
        # c: the display value of scene-linear diffuse white; s: the inverse view's slope just below it.
        self.white = min(float(self._convert(self._view, grey).mean()), 1.0)
        self.slope = 0.0
        if self.white < 1.0:
            step = 1e-3
            below = float(self._convert(self._inverse, grey * (self.white - step)).mean())
            at = float(self._convert(self._inverse, grey * self.white).mean())
            self.slope = (at - below) / step
            if not math.isfinite(self.slope) or self.slope <= 0:
                self.slope = 1.0 / max(self.white, 1e-3)

    @staticmethod
    def _convert(processor: Any, values: np.ndarray) -> np.ndarray:
        return values.astype(np.float32, copy=True) if processor.isNoOp() else _apply(processor, values)

    # ------------------------------------------------------------------ source side

    def to_working(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A file's values (input colour space) -> ``(image, plate)``: the network's display-referred
        image, float32 (H, W, 3) in [0, 1], and the plate in scene_linear, float32 (H, W, 3)."""
        finite = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0, posinf=HALF_MAX, neginf=-HALF_MAX)
        plate = self._convert(self._to_linear, finite)
        return self.display_image(plate), plate

    def display_image(self, linear: np.ndarray) -> np.ndarray:
        """scene_linear -> the view, clipped to [0, 1] (what the network sees)."""
        image = np.clip(np.nan_to_num(self._convert(self._view, linear), nan=0.0), 0.0, 1.0)
        return np.ascontiguousarray(image, dtype=np.float32)

    # ------------------------------------------------------------------ sink side

    def scene(self, image: np.ndarray) -> np.ndarray:
        """``L`` of the module docstring: the inverse view up to diffuse white, its slope above."""
        image = np.asarray(image, dtype=np.float32)
        below = self._convert(self._inverse, np.minimum(image, np.float32(self.white)))
        return below + np.float32(self.slope) * np.maximum(image - np.float32(self.white), np.float32(0.0))

    def restore(self, plate: np.ndarray, view_image: np.ndarray, stylised: np.ndarray) -> np.ndarray:
        """The stylised frame in scene_linear with the plate's dynamic range (module docstring);
        all three (H, W, 3) at one size; ``view_image`` is the image the network started from."""
        return restore_dynamic_range(plate, view_image, stylised, self.scene)

    def restore_at(self, plate: Plate, stylised: np.ndarray) -> np.ndarray:
        """:meth:`restore` at the size ``stylised`` was made at: the plate's view brought to that size
        exactly as the engines bring a frame's image (:func:`vidstyle.frames.resize`), so an
        unstylised frame gives the plate, and the plate in linear light (area average, unclipped)."""
        linear, view = plate.linear, plate.view
        if linear.shape[:2] != stylised.shape[:2]:
            size = (stylised.shape[1], stylised.shape[0])
            linear, view = resize_linear(linear, size), resize(view, size)
        return self.restore(linear, view, stylised)

    def to_output(self, linear: np.ndarray) -> np.ndarray:
        """scene_linear -> the output colour space (values to store)."""
        return self._convert(self._from_linear, linear)

    def from_output(self, values: np.ndarray) -> np.ndarray:
        """Stored output values -> the display-referred image (a resumed render's previous frame)."""
        return self.display_image(self._convert(self._to_linear_from_output, values))

    @property
    def output_chromaticities(self) -> Chromaticities | None:
        return chromaticities_of(self.loaded, self.output_colorspace) if self.output_colorspace else None

    def for_output(self, name: str | None, fmt: ImageFormat) -> "PlateColour":
        """This pipeline writing to ``fmt`` in colour space ``name`` (None: the default, module docstring)."""
        if name is not None:
            out: str | None = resolve_colorspace(self.loaded, name, "--output-colorspace")
        elif fmt.ext != "exr" and fmt.dtype != "float32" and self.scene_referred_input:
            out = None
        else:
            out = self.colorspace
        return PlateColour(self.loaded, self.colorspace, self.display, self.view, out, self.scene_referred_input)

    def record(self) -> dict[str, Any]:
        """What the settings sidecar records (a rerun with other colour settings is refused)."""
        return {
            "config": self.loaded.source, "config_name": self.loaded.name, "config_id": str(self.loaded.config.getCacheID()),
            "colorspace": self.colorspace, "display": self.display, "view": self.view,
            "output_colorspace": self.output_colorspace if self.output_colorspace is not None else "display-referred (the view)",
        }

    def __repr__(self) -> str:
        return (f"PlateColour({self.colorspace!r} -> {self.display!r} / {self.view!r} -> {self.output_colorspace!r}, "
                f"config {self.loaded.name!r})")


def restore_dynamic_range(plate: np.ndarray, view_image: np.ndarray, stylised: np.ndarray,
                          scene: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """The formula of the module docstring, with ``scene`` as ``L``; float32 (H, W, 3) out.

    ``plate`` P (scene-linear), ``view_image`` W (what the network started from) and ``stylised``
    S, all (H, W, 3) at one size. ``S == W`` gives ``P`` exactly."""
    plate = np.asarray(plate, dtype=np.float32)
    view_image = np.asarray(view_image, dtype=np.float32)
    stylised = np.asarray(stylised, dtype=np.float32)
    if not plate.shape == view_image.shape == stylised.shape:
        raise ValueError(f"plate {plate.shape}, view {view_image.shape} and stylised {stylised.shape} differ in shape")
    change = scene(stylised) - scene(view_image)
    brightest = np.maximum(plate.max(axis=-1, keepdims=True), np.float32(1e-30))
    t = np.clip(np.log2(brightest / np.float32(_HIGHLIGHT_FROM)), 0.0, 1.0).astype(np.float32)
    floor = np.float32(RATIO_FLOOR)
    ratio_change = (stylised + floor) / (view_image + floor) - np.float32(1.0)
    out = plate + (np.float32(1.0) - t) * change + t * plate * ratio_change
    return np.maximum(out, np.minimum(plate, np.float32(0.0))).astype(np.float32, copy=False)


def plate_colour(options: ColourOptions | None, raw: RawImage, path: str) -> PlateColour | None:
    """The colour pipeline for an input whose first frame is ``raw``; None for the plain path (no
    options, or ``options`` not given and an 8/16-bit file: module docstring).

    Raises:
        ColourError: an unknown colour space, display or view (closest names listed), a config that
            cannot be loaded, chromaticities that match nothing.
    """
    if options is None or (not options.given and raw.format.ext != "exr"):
        return None
    loaded = load_config()
    colorspace = _input_colorspace(loaded, options, raw, path)
    display, view = resolve_view(loaded, options.display, options.view)
    scene_referred = raw.format.ext == "exr" or raw.format.dtype == "float32"
    return PlateColour(loaded, colorspace, display, view, scene_referred_input=scene_referred)
