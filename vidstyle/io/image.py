"""Still images in and out: every file format vidstyle reads or writes.

Inside the pipeline a picture is float32 RGB (H, W, 3) in [0, 1], sRGB-encoded (display-referred),
plus an optional float32 alpha (H, W). This module is the only place that knows about bit depths,
channel orders and transfer functions; :func:`read_image` converts every file into that form and
returns an :class:`ImageFormat` that lets :func:`write_image` put the result back the same way.

Libraries
    * EXR goes through the ``OpenEXR`` package (the reference implementation's own Python
      bindings), not OpenCV. It reads and writes half and float channels by name (R, G, B, A, or Y
      for greyscale) and needs no switch: OpenCV decodes EXR only if ``OPENCV_IO_ENABLE_OPENEXR=1``
      is in the environment *before* ``import cv2``, which a library cannot guarantee.
    * Everything else goes through OpenCV (``cv2.imdecode`` / ``cv2.imencode`` on bytes, so a
      missing, empty or unreadable file is told apart from a corrupt one, and so the temporary file
      name never has to please the codec). ``IMREAD_UNCHANGED`` keeps 16-bit depth, float TIFF and
      alpha; OpenCV's BGR(A) is turned into RGB(A), greyscale is repeated into three channels.
      JPEG is the exception: it is decoded with ``IMREAD_COLOR`` so the EXIF orientation of camera
      stills is applied (a JPEG has no alpha and no depth above 8 bits, so nothing is lost).

Colour
    * Two layers. :func:`read_raw` / :func:`write_raw` move the values exactly as stored (EXR:
      scene-linear, unclipped, highlights above 1.0 and negatives included, plus the file's
      ``chromaticities`` attribute; integer files: ``v / max``) and know nothing of colour. Plates
      go through them and :mod:`vidstyle.io.colour` (OpenColorIO), which keeps every highlight.
    * :func:`read_image` / :func:`write_image` are the plain picture path for everything that only
      needs a picture (style images, mattes, previews, ``vidstyle eval``): EXR is clipped to
      [0, 1] and encoded with the sRGB OETF (:func:`linear_to_srgb`), Rec.709 primaries assumed.
      **Highlights above 1.0 are clipped there**, which is why frame sequences and ``vidstyle
      image`` read EXR through the colour module instead. On writing, RGB is decoded back to
      linear with :func:`srgb_to_linear`.
    * Alpha is never colour-converted or rescaled: EXR alpha is passed through exactly as stored
      (half -> float32 is exact, so half -> half is exact); integer alpha becomes ``v / max`` and
      is written back as ``round(a * max)``, which reproduces every uint8 / uint16 value exactly.
    * Float TIFF is treated like the integer formats (display-referred, clipped to [0, 1]).

Defaults when writing (no format given, or a format for another extension; see :func:`format_for`)

    ==========  ================  =========================  ======
    extension   default dtype     dtypes it can hold         alpha
    ==========  ================  =========================  ======
    png         uint8             uint8, uint16              yes
    tif, tiff   uint16            uint8, uint16, float32     yes
    jpg, jpeg   uint8             uint8                      no
    exr         float16 (half)    float16, float32           yes
    webp, bmp   uint8             uint8                      yes
    ==========  ================  =========================  ======

    TIFF defaults to 16 bits because it is the usual interchange format for graded stills and
    8 bits would band in gradients; EXR defaults to half, the VFX norm for colour. EXR is written
    with ZIP compression (lossless, widely read); PNG with OpenCV's fast default; JPEG at quality 95.
    Alpha given for a JPEG is dropped with a warning.

Writes are atomic: the bytes go to ``.<name>.tmp-<pid><ext>`` in the same folder, are flushed to
disk, and are then renamed over the target with :func:`os.replace`, so a reader (or a resumed
render checking which frames exist) never sees a half-written file.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import OpenEXR

from vidstyle.errors import UsageError
from vidstyle.frames import to_float

__all__ = [
    "Chromaticities",
    "ImageError",
    "ImageFormat",
    "RawImage",
    "SUPPORTED_EXTENSIONS",
    "as_picture",
    "canonical_extension",
    "default_format",
    "format_for",
    "linear_to_srgb",
    "read_image",
    "read_raw",
    "srgb_to_linear",
    "temporary_path",
    "temporary_target",
    "write_image",
    "write_raw",
]


class ImageError(UsageError):
    """An image could not be read or written. The one-line message names the file."""


@dataclass(frozen=True)
class ImageFormat:
    """How an image is (or is to be) stored on disk.

    Attributes:
        ext: canonical extension, lower case, no dot: "png", "tif", "jpg", "exr", "webp" or "bmp"
            ("tiff" and "jpeg" are spelled "tif" and "jpg").
        dtype: sample type in the file: "uint8", "uint16", "float16" or "float32".
        channels: 3 (RGB) or 4 (RGBA) as read. On writing, whether ``alpha`` is passed decides.
        linear: True when the file holds scene-linear values (EXR), False for sRGB-encoded ones.
    """

    ext: str
    dtype: str
    channels: int
    linear: bool


# An EXR ``chromaticities`` attribute: red x, y, green x, y, blue x, y, white x, y (CIE 1931).
Chromaticities = tuple[float, float, float, float, float, float, float, float]


@dataclass(frozen=True)
class RawImage:
    """A file's samples as stored, no transfer function applied (:func:`read_raw`).

    ``values``: float32 (H, W, 3), C-contiguous: EXR and float TIFF exactly as stored (NaN and
    infinities included), integer files ``v / max``. ``alpha``: as :func:`read_image` returns it.
    ``chromaticities``: the EXR attribute when the file has one, else None."""

    values: np.ndarray
    alpha: np.ndarray | None
    format: ImageFormat
    chromaticities: Chromaticities | None = None


_ALIASES = {"tiff": "tif", "jpeg": "jpg"}
_DTYPES: dict[str, tuple[str, ...]] = {
    "png": ("uint8", "uint16"),
    "tif": ("uint8", "uint16", "float32"),
    "jpg": ("uint8",),
    "exr": ("float16", "float32"),
    "webp": ("uint8",),
    "bmp": ("uint8",),
}
_DEFAULT_DTYPE = {"png": "uint8", "tif": "uint16", "jpg": "uint8", "exr": "float16",
                  "webp": "uint8", "bmp": "uint8"}
_NO_ALPHA = {"jpg"}
SUPPORTED_EXTENSIONS: tuple[str, ...] = ("png", "tif", "tiff", "jpg", "jpeg", "exr", "webp", "bmp")
_TMP_MARKER = ".tmp-"


# --------------------------------------------------------------------------- transfer functions

def srgb_to_linear(x: np.ndarray) -> np.ndarray:
    """sRGB-encoded -> linear light (IEC 61966-2-1 EOTF), elementwise, any shape, float32 out.

    ``x <= 0.04045``: ``x / 12.92``; above: ``((x + 0.055) / 1.055) ** 2.4``. Not clipped, so
    values above 1 extend the curve. ``srgb_to_linear(0.5) ≈ 0.21404``.
    """
    x = np.asarray(x, dtype=np.float32)
    # np.maximum keeps the power away from negative bases in the branch np.where discards.
    curve = ((np.maximum(x, np.float32(0.04045)) + np.float32(0.055)) / np.float32(1.055)) ** np.float32(2.4)
    return np.where(x <= np.float32(0.04045), x / np.float32(12.92), curve).astype(np.float32, copy=False)


def linear_to_srgb(y: np.ndarray) -> np.ndarray:
    """Linear light -> sRGB-encoded (the piecewise sRGB OETF), elementwise, float32 out.

    ``y <= 0.0031308``: ``12.92 * y``; above: ``1.055 * y ** (1 / 2.4) - 0.055``. Not clipped.
    Inverse of :func:`srgb_to_linear` (to float32 rounding).
    """
    y = np.asarray(y, dtype=np.float32)
    curve = np.float32(1.055) * np.maximum(y, np.float32(0.0031308)) ** np.float32(1.0 / 2.4) - np.float32(0.055)
    return np.where(y <= np.float32(0.0031308), y * np.float32(12.92), curve).astype(np.float32, copy=False)


# --------------------------------------------------------------------------- formats

def canonical_extension(path: str | os.PathLike[str]) -> str:
    """The canonical extension of ``path`` ("shot.1001.TIFF" -> "tif"); raises ImageError if unsupported."""
    suffix = Path(path).suffix.lower().lstrip(".")
    ext = _ALIASES.get(suffix, suffix)
    if ext not in _DTYPES:
        raise ImageError(
            f"{os.fspath(path)}: unsupported image extension {Path(path).suffix or '(none)'!r} "
            f"(supported: {', '.join('.' + e for e in SUPPORTED_EXTENSIONS)})"
        )
    return ext


def default_format(path: str | os.PathLike[str]) -> ImageFormat:
    """The format :func:`write_image` uses for ``path``'s extension when given none (see table above)."""
    ext = canonical_extension(path)
    return ImageFormat(ext=ext, dtype=_DEFAULT_DTYPE[ext], channels=3, linear=ext == "exr")


def format_for(path: str | os.PathLike[str], like: ImageFormat | None = None) -> ImageFormat:
    """The format to write ``path`` in: ``like`` if it is for the same extension, else the default.

    This is how an output keeps the input's bit depth (a 16-bit PNG plate gives 16-bit PNG output)
    while a different output extension (PNG plate, EXR output) gets that extension's own default.
    """
    ext = canonical_extension(path)
    if like is not None and _ALIASES.get(like.ext.lower(), like.ext.lower()) == ext:
        return ImageFormat(ext=ext, dtype=like.dtype, channels=like.channels, linear=like.linear)
    return default_format(path)


def temporary_path(path: str | os.PathLike[str]) -> Path:
    """Where :func:`write_image` stages ``path``: ``.<name>.tmp-<pid><ext>`` in the same folder.

    Same folder, so the final :func:`os.replace` is a rename within one filesystem (atomic);
    leading dot and the marker, so sequence scans and ``exists`` checks never take it for a frame;
    the extension kept at the end, so any tool that looks at it still sees the right codec.
    """
    p = Path(path)
    return p.with_name(f".{p.name}{_TMP_MARKER}{os.getpid()}{p.suffix}")


def temporary_target(path: str | os.PathLike[str]) -> Path | None:
    """Inverse of :func:`temporary_path`: the file a temporary was staging, or None if ``path``
    is not named like one of ours (``.shot.1001.png.tmp-4242.png`` -> ``shot.1001.png``)."""
    p = Path(path)
    if not p.name.startswith("."):
        return None
    target, marker, rest = p.name[1:].rpartition(_TMP_MARKER)
    suffix = Path(target).suffix
    if not marker or not target or not rest.endswith(suffix):
        return None
    pid = rest[: len(rest) - len(suffix)] if suffix else rest
    return p.with_name(target) if pid.isdigit() else None


# --------------------------------------------------------------------------- reading

def read_image(path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray | None, ImageFormat]:
    """Read one still image as a picture (the plain path: see "Colour" above).

    Args:
        path: a .png, .tif/.tiff, .jpg/.jpeg, .exr, .webp or .bmp file.

    Returns:
        ``(rgb, alpha, fmt)``: rgb float32 (H, W, 3) in [0, 1], sRGB-encoded, C-contiguous;
        alpha float32 (H, W) (integer files: in [0, 1]; EXR: as stored) or None; and the file's
        :class:`ImageFormat`, to write the result back the same way.

    Raises:
        ImageError: unsupported extension, missing, empty, unreadable, or not decodable
            ("cannot decode <path>: ...").
    """
    return as_picture(read_raw(path))


def as_picture(raw: RawImage) -> tuple[np.ndarray, np.ndarray | None, ImageFormat]:
    """What :func:`read_image` makes of a file's samples: ``(rgb, alpha, fmt)`` as it returns them."""
    if raw.format.ext != "exr":
        # Integer files are already v / max in [0, 1]; float TIFF is clipped (display-referred).
        return np.ascontiguousarray(to_float(raw.values)), raw.alpha, raw.format
    # NaN -> 0 and clip to [0, 1]: this path wants display-referred pixels, so highlights above
    # 1.0 are deliberately lost here (documented in the module docstring; plates keep them through
    # vidstyle.io.colour).
    linear = np.clip(np.nan_to_num(raw.values, nan=0.0, posinf=1.0, neginf=0.0), 0.0, 1.0)
    return np.ascontiguousarray(linear_to_srgb(linear)), raw.alpha, raw.format


def read_raw(path: str | os.PathLike[str]) -> RawImage:
    """Read one still image's samples as stored (see :class:`RawImage`); the layer under
    :func:`read_image` and :mod:`vidstyle.io.colour`.

    Raises:
        ImageError: as :func:`read_image`.
    """
    p = Path(path)
    ext = canonical_extension(p)
    if not p.exists():
        raise ImageError(f"{p}: no such file")
    if not p.is_file():
        raise ImageError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise ImageError(f"{p}: empty file (0 bytes)")
    if ext == "exr":
        return _read_exr(p)
    return _read_with_opencv(p, ext)


def _read_with_opencv(p: Path, ext: str) -> RawImage:
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ImageError(f"cannot read {p}: {e.strerror or e}") from e
    flags = cv2.IMREAD_COLOR if ext == "jpg" else cv2.IMREAD_UNCHANGED
    try:
        pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as e:
        raise ImageError(f"cannot decode {p}: {_one_line(str(e))}") from e
    if pixels is None:
        raise ImageError(f"cannot decode {p}: not a valid {ext.upper()} file, or truncated/corrupt")
    if pixels.dtype == np.float64:  # 64-bit float TIFF: nothing downstream needs the extra bits
        pixels = pixels.astype(np.float32)
    dtype = {np.dtype(np.uint8): "uint8", np.dtype(np.uint16): "uint16",
             np.dtype(np.float32): "float32"}.get(pixels.dtype)
    if dtype is None:
        raise ImageError(f"cannot decode {p}: unsupported sample type {pixels.dtype}")
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    alpha = None
    if channels == 1:
        rgb = np.repeat(pixels, 3, axis=2)
    elif channels == 2:  # grey + alpha (OpenCV usually expands this to BGRA itself)
        rgb, alpha = np.repeat(pixels[:, :, :1], 3, axis=2), pixels[:, :, 1]
    elif channels == 3:
        rgb = pixels[:, :, ::-1]
    elif channels == 4:
        rgb, alpha = pixels[:, :, 2::-1], pixels[:, :, 3]
    else:
        raise ImageError(f"cannot decode {p}: {channels} channels (expected 1 to 4)")
    # Copies into C order: the reversed-channel views have negative strides, which torch rejects.
    # Float samples stay as stored here (read_image clips them); integers become v / max.
    rgb_f = np.ascontiguousarray(rgb.astype(np.float32) if dtype == "float32" else to_float(rgb))
    alpha_f = None if alpha is None else np.ascontiguousarray(to_float(alpha))
    fmt = ImageFormat(ext=ext, dtype=dtype, channels=3 if alpha is None else 4, linear=False)
    return RawImage(rgb_f, alpha_f, fmt)


def _read_exr(p: Path) -> RawImage:
    try:
        # separate_channels: one 2-D array per named channel, whatever else the file holds.
        with OpenEXR.File(str(p), separate_channels=True) as exr:
            planes = {name: ch.pixels for name, ch in exr.channels().items()}
            chromaticities = exr.header().get("chromaticities")
    except RuntimeError as e:
        raise ImageError(f"cannot decode {p}: {_one_line(str(e))}") from e
    if all(c in planes for c in "RGB"):
        colour = [planes["R"], planes["G"], planes["B"]]
    elif "Y" in planes:
        colour = [planes["Y"]] * 3
    else:
        found = ", ".join(sorted(planes)) or "none"
        raise ImageError(f"cannot decode {p}: no R, G, B (or Y) channels (found: {found})")
    alpha_plane = planes.get("A")
    used = colour + ([alpha_plane] if alpha_plane is not None else [])
    shapes = {a.shape for a in used}
    if len(shapes) != 1:
        raise ImageError(f"cannot decode {p}: subsampled channels are not supported")
    kinds = {a.dtype for a in used}
    if not kinds <= {np.dtype(np.float16), np.dtype(np.float32)}:
        raise ImageError(f"cannot decode {p}: only half and float channels are supported")
    dtype = "float32" if np.dtype(np.float32) in {a.dtype for a in colour} else "float16"

    values = np.ascontiguousarray(np.stack(colour, axis=-1).astype(np.float32))
    alpha = None if alpha_plane is None else np.ascontiguousarray(alpha_plane.astype(np.float32))
    fmt = ImageFormat(ext="exr", dtype=dtype, channels=3 if alpha is None else 4, linear=True)
    chroma = None
    if chromaticities is not None and len(chromaticities) == 8:
        chroma = tuple(float(v) for v in chromaticities)
    return RawImage(values, alpha, fmt, chroma)  # type: ignore[arg-type]  # eight floats, checked above


# --------------------------------------------------------------------------- writing

def write_image(
    path: str | os.PathLike[str],
    rgb: np.ndarray,
    alpha: np.ndarray | None = None,
    fmt: ImageFormat | None = None,
) -> Path:
    """Write one still image atomically.

    Args:
        path: target file; its extension picks the codec. Its folder must exist.
        rgb: float (H, W, 3) RGB in [0, 1], sRGB-encoded (clipped to [0, 1] before encoding).
        alpha: float (H, W) or None. Written unchanged as a fourth channel (integer formats:
            ``round(a * max)``, clipped to [0, 1]; EXR: cast to the channel type, not clipped).
        fmt: how to store it, usually the :class:`ImageFormat` :func:`read_image` returned. It is
            resolved with :func:`format_for`: a format for another extension is ignored in favour
            of ``path``'s default. ``fmt.linear`` decides whether RGB is converted to linear.

    Returns:
        The path written.

    Raises:
        ImageError: unsupported extension, a dtype the extension cannot hold, wrong shapes,
            missing folder, or a failed encode/write (the target is then left untouched).
    """
    rgb = np.asarray(rgb)
    if rgb.ndim == 3 and rgb.shape[2] == 3:
        rgb = np.clip(rgb.astype(np.float32, copy=False), 0.0, 1.0)
        if format_for(path, like=fmt).linear:
            rgb = srgb_to_linear(rgb)
    return write_raw(path, rgb, alpha, fmt)


def write_raw(
    path: str | os.PathLike[str],
    values: np.ndarray,
    alpha: np.ndarray | None = None,
    fmt: ImageFormat | None = None,
    chromaticities: Chromaticities | None = None,
) -> Path:
    """Write samples as given, atomically: the layer under :func:`write_image` and
    :mod:`vidstyle.io.colour`. EXR and float TIFF store ``values`` unclipped (highlights and
    negatives kept; half rounds to 11 significant bits); integer formats clip to [0, 1] and store
    ``round(v * max)``. ``chromaticities`` is written as the EXR attribute (ignored by the
    other formats). Arguments and errors otherwise as :func:`write_image`."""
    p = Path(path)
    fmt = format_for(p, like=fmt)
    if fmt.dtype not in _DTYPES[fmt.ext]:
        raise ImageError(
            f"{p}: .{fmt.ext} cannot hold {fmt.dtype} samples (choose {', '.join(_DTYPES[fmt.ext])})"
        )
    rgb = np.asarray(values)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.shape[0] == 0 or rgb.shape[1] == 0:
        raise ImageError(f"{p}: expected rgb of shape (H, W, 3), got {rgb.shape}")
    if alpha is not None:
        alpha = np.asarray(alpha)
        if alpha.shape != rgb.shape[:2]:
            raise ImageError(f"{p}: expected alpha of shape {rgb.shape[:2]}, got {alpha.shape}")
        if fmt.ext in _NO_ALPHA:
            warnings.warn(f"{p}: .{fmt.ext} has no alpha channel; alpha dropped", stacklevel=2)
            alpha = None
    if not p.parent.is_dir():
        raise ImageError(f"{p}: folder {p.parent} does not exist")

    rgb = rgb.astype(np.float32, copy=False)
    if fmt.dtype != "float32" and fmt.ext != "exr":
        rgb = np.clip(rgb, 0.0, 1.0)

    tmp = temporary_path(p)
    try:
        if fmt.ext == "exr":
            _write_exr(tmp, rgb, alpha, fmt.dtype, chromaticities)
        else:
            _write_with_opencv(tmp, rgb, alpha, fmt)
        _fsync(tmp)
        os.replace(tmp, p)
    except BaseException as e:
        # Also on KeyboardInterrupt: never leave a stray temporary behind if we can help it.
        tmp.unlink(missing_ok=True)
        if isinstance(e, (OSError, RuntimeError, cv2.error)):
            raise ImageError(f"cannot write {p}: {_one_line(str(e))}") from e
        raise
    return p


def _write_with_opencv(tmp: Path, rgb: np.ndarray, alpha: np.ndarray | None, fmt: ImageFormat) -> None:
    pixels = rgb[:, :, ::-1]  # RGB -> OpenCV's BGR
    if alpha is not None:
        pixels = np.concatenate([pixels, np.clip(alpha, 0.0, 1.0)[:, :, None]], axis=2)
    if fmt.dtype == "uint8":
        pixels = (pixels * 255.0 + 0.5).astype(np.uint8)
    elif fmt.dtype == "uint16":
        pixels = (pixels * 65535.0 + 0.5).astype(np.uint16)
    else:
        pixels = np.ascontiguousarray(pixels, dtype=np.float32)
    params: list[int] = []
    if fmt.ext == "jpg":
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
    ok, encoded = cv2.imencode("." + fmt.ext, pixels, params)
    if not ok:
        raise ImageError(f"cannot write {tmp.name}: OpenCV could not encode .{fmt.ext}")
    with open(tmp, "wb") as f:
        f.write(encoded.tobytes())


def _write_exr(tmp: Path, rgb: np.ndarray, alpha: np.ndarray | None, dtype: str,
               chromaticities: Chromaticities | None = None) -> None:
    np_dtype = np.float16 if dtype == "float16" else np.float32
    # One contiguous 2-D array per named channel: the layout every EXR reader expects (R, G, B, A).
    channels = {name: np.ascontiguousarray(rgb[:, :, i], dtype=np_dtype) for i, name in enumerate("RGB")}
    if alpha is not None:
        channels["A"] = np.ascontiguousarray(alpha, dtype=np_dtype)
    header: dict[str, object] = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    if chromaticities is not None:
        header["chromaticities"] = tuple(float(v) for v in chromaticities)
    with OpenEXR.File(header, channels) as exr:
        exr.write(str(tmp))


def _fsync(path: Path) -> None:
    # Without this a crash after the rename can leave a complete-looking but empty frame, which a
    # resumed render would skip as finished.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _one_line(message: str) -> str:
    """The last non-empty line of a library's message (OpenCV puts the useful part last)."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "unknown error"
