"""Dense optical flow between two frames: DIS (default), Farneback, or RAFT from a user-named weights file.

``estimate(a, b)`` returns ``F_ab``: numpy float32 (H, W, 2) in pixels, channel 0 = x, such that pixel p of
frame a is at p + F_ab(p) in frame b, so ``flow.warp(b, F_ab) ≈ a`` (DESIGN.md).

Nothing is ever downloaded. RAFT runs only from a torchvision state dict whose path the user gives.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import cv2
import numpy as np

from flow._checks import check_flow, check_frame

__all__ = ["estimate", "METHODS", "DIS_PRESETS", "DIS_TUNED_DEFAULTS"]

METHODS = ("dis", "farneback", "raft")

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# Our settings on top of OpenCV's presets. OpenCV's "medium" stops at finest scale 1 (half resolution)
# and upsamples, which costs sub-pixel accuracy: on a photo translated by (3.5, -2.25) px and on a
# synthetic camera move (zoom + rotation + pan) the interior end-point error falls from about 0.11 px to
# 0.035 px with finest_scale=0. Full-resolution patches cost time; a patch stride of 4 (instead of 3)
# and 12 gradient-descent iterations (instead of 25) win a third of it back at no measurable accuracy
# loss. Net: 2 to 3x the time of stock "medium" for about 3x lower error (docs/BENCHMARKS.md).
# "fast" and "ultrafast" are left as OpenCV ships them: they are for previews, where speed rules.
DIS_TUNED_DEFAULTS: dict[str, dict[str, Any]] = {
    "ultrafast": {},
    "fast": {},
    "medium": {"finest_scale": 0, "patch_stride": 4, "gradient_descent_iterations": 12},
}

_DIS_SETTERS = {
    "finest_scale": "setFinestScale",
    "coarsest_scale": "setCoarsestScale",
    "patch_size": "setPatchSize",
    "patch_stride": "setPatchStride",
    "gradient_descent_iterations": "setGradientDescentIterations",
    "variational_refinement_iterations": "setVariationalRefinementIterations",
    "variational_refinement_alpha": "setVariationalRefinementAlpha",
    "variational_refinement_delta": "setVariationalRefinementDelta",
    "variational_refinement_gamma": "setVariationalRefinementGamma",
    "use_mean_normalization": "setUseMeanNormalization",
    "use_spatial_propagation": "setUseSpatialPropagation",
}

# Farneback: OpenCV's sample values (pyr_scale 0.5, 3 levels, poly_n 5, poly_sigma 1.2) with a 21-px
# window, which lowered the end-point error by 5-15 % on our test pairs at the same cost. More levels
# changed nothing in OpenCV 5.0 (results identical for levels 3, 4 and 5 at 640x480), so Farneback
# misses motions beyond roughly 10-15 px; it also leaves flat regions (sky) near zero. DIS is better.
_FARNEBACK_DEFAULTS: dict[str, Any] = {
    "pyr_scale": 0.5,
    "levels": 3,
    "winsize": 21,
    "iterations": 3,
    "poly_n": 5,
    "poly_sigma": 1.2,
    "gaussian": False,
}

_RAFT_OPTIONS = ("weights", "model", "num_flow_updates", "device")
_RAFT_MIN_SIDE = 128

# DIS objects hold scratch buffers and are not safe to share between threads, and creating one per
# call is slow, so each thread keeps its own, keyed by its settings.
_thread_local = threading.local()


def estimate(a: np.ndarray, b: np.ndarray, method: str = "dis", *, init_flow: np.ndarray | None = None,
             **options: Any) -> np.ndarray:
    """Optical flow F_ab from frame ``a`` to frame ``b``.

    Args:
        a, b: RGB frames (H, W, 3), uint8 or float in [0, 1] (a grey (H, W) frame is accepted too).
        method: ``"dis"`` (default), ``"farneback"`` or ``"raft"``.
        init_flow: optional (H, W, 2) float32 flow a -> b to start from, e.g. the previous pair's flow in
            a video (DIS: passed to ``calc`` as the initial flow; Farneback: OPTFLOW_USE_INITIAL_FLOW).
            Ignored by RAFT: torchvision's RAFT has no input for an initial flow.
        **options:
            dis: ``preset`` = "medium" (default) | "fast" | "ultrafast", and any of ``finest_scale``,
                ``coarsest_scale``, ``patch_size``, ``patch_stride``, ``gradient_descent_iterations``,
                ``variational_refinement_iterations``, ``variational_refinement_alpha``,
                ``variational_refinement_delta``, ``variational_refinement_gamma``,
                ``use_mean_normalization``, ``use_spatial_propagation``. Unset ones take the preset's
                value with our tuning on top (see ``DIS_TUNED_DEFAULTS``).
            farneback: ``pyr_scale``, ``levels``, ``winsize``, ``iterations``, ``poly_n``, ``poly_sigma``,
                ``gaussian`` (see cv2.calcOpticalFlowFarneback).
            raft: ``weights`` = path to a torchvision RAFT state dict (required); ``model`` = "auto"
                (default: raft_large or raft_small, told apart by the file's keys) | "large" | "small";
                ``num_flow_updates`` (default 12); ``device`` (default: CUDA if available, else CPU).
                Frames are padded (replicated edge) to a multiple of 8 and at least 128 px per side,
                which torchvision's RAFT requires, and the flow is cropped back.

    Returns:
        F_ab: float32 (H, W, 2) in pixels, channel 0 = x; ``flow.warp(b, F_ab) ≈ a``.

    DIS and Farneback work on 8-bit grey images: the frames are converted with OpenCV's RGB->grey
    weights and rounded to 8 bits (a float frame is converted to grey before rounding).
    """
    a = check_frame("flow.estimate", "a", a)
    b = check_frame("flow.estimate", "b", b)
    if a.shape != b.shape:
        raise ValueError(f"flow.estimate: expected a and b of the same shape, got {a.shape} and {b.shape}")
    if init_flow is not None:
        init_flow = check_flow("flow.estimate", "init_flow", init_flow, shape_hw=a.shape[:2])
    if method == "dis":
        return _estimate_dis(a, b, init_flow, **options)
    if method == "farneback":
        return _estimate_farneback(a, b, init_flow, **options)
    if method == "raft":
        return _estimate_raft(a, b, **options)
    raise ValueError(f"flow.estimate: expected method in {METHODS}, got {method!r}")


def _to_gray_u8(img: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB or (H, W) grey, uint8 or float in [0, 1] -> (H, W) uint8 grey, contiguous."""
    if img.dtype != np.uint8:
        img = img.astype(np.float32, copy=False)
    if img.ndim == 3:
        img = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_RGB2GRAY)
    if img.dtype != np.uint8:
        img = np.rint(img * 255.0).astype(np.uint8)  # the float range was checked to be [0, 1]
    return np.ascontiguousarray(img)


def _check_options(where: str, options: dict[str, Any], allowed: Any) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"{where}: unknown option(s) {unknown}; expected some of {sorted(allowed)}")


def _dis_settings(options: dict[str, Any]) -> tuple[str, tuple[tuple[str, Any], ...]]:
    _check_options("flow.estimate(method='dis')", options, ("preset", *_DIS_SETTERS))
    preset = options.get("preset", "medium")
    if preset not in DIS_PRESETS:
        raise ValueError(f"flow.estimate(method='dis'): expected preset in {tuple(DIS_PRESETS)}, got {preset!r}")
    settings = dict(DIS_TUNED_DEFAULTS[preset])
    settings.update({k: v for k, v in options.items() if k != "preset"})
    return preset, tuple(sorted(settings.items()))


def _dis_object(preset: str, settings: tuple[tuple[str, Any], ...], warm_shape: tuple[int, int] | None) -> Any:
    """This thread's DIS object for these settings.

    Warm-started and cold calls get separate objects. In OpenCV 5.0 a DIS object that has once been
    given an initial flow keeps using it on later calls without one (measured: the "cold" result equals
    the previous warm one), and a later call at another frame size then reads past the old buffer and
    crashes the process. Objects that never see an initial flow are unaffected; warm objects are also
    keyed by frame size, and every call to one passes a fresh initial flow.
    """
    cache = getattr(_thread_local, "dis", None)
    if cache is None:
        cache = _thread_local.dis = {}
    key = (preset, settings, warm_shape)
    dis = cache.get(key)
    if dis is None:
        # DISOpticalFlow.create is the same factory as the legacy cv2.DISOpticalFlow_create, and the
        # one OpenCV's type stubs list.
        dis = cv2.DISOpticalFlow.create(DIS_PRESETS[preset])
        for name, value in settings:
            getattr(dis, _DIS_SETTERS[name])(value)
        cache[key] = dis
    return dis


def _estimate_dis(a: np.ndarray, b: np.ndarray, init_flow: np.ndarray | None, **options: Any) -> np.ndarray:
    preset, settings = _dis_settings(options)
    warm_shape = None if init_flow is None else a.shape[:2]
    dis = _dis_object(preset, settings, warm_shape)
    gray_a, gray_b = _to_gray_u8(a), _to_gray_u8(b)
    # DIS uses a flow argument of the right size and type as its initial flow and writes the result
    # into it, so pass a copy: the caller's array must not change.
    initial = None if init_flow is None else init_flow.copy()
    try:
        flow_ab = dis.calc(gray_a, gray_b, initial)
    except cv2.error as exc:  # e.g. frames too small for DIS's pyramid (OpenCV wants a side >= 12)
        raise ValueError(
            f"flow.estimate(method='dis'): OpenCV DIS refused frames of shape {a.shape}: {str(exc).strip()}"
        ) from exc
    return np.array(flow_ab, dtype=np.float32, copy=True, order="C")


def _estimate_farneback(a: np.ndarray, b: np.ndarray, init_flow: np.ndarray | None, **options: Any) -> np.ndarray:
    _check_options("flow.estimate(method='farneback')", options, _FARNEBACK_DEFAULTS)
    p = {**_FARNEBACK_DEFAULTS, **options}
    flags = cv2.OPTFLOW_FARNEBACK_GAUSSIAN if p["gaussian"] else 0
    # OpenCV takes None for "no initial flow"; its type stubs declared the flow argument as an
    # array up to 5.0 and accept None from 5.1, hence Any rather than a version-bound type: ignore.
    initial: Any = None
    if init_flow is not None:
        flags |= cv2.OPTFLOW_USE_INITIAL_FLOW
        initial = init_flow.copy()
    flow_ab = cv2.calcOpticalFlowFarneback(
        _to_gray_u8(a), _to_gray_u8(b), initial, p["pyr_scale"], p["levels"], p["winsize"],
        p["iterations"], p["poly_n"], p["poly_sigma"], flags,
    )
    return np.ascontiguousarray(flow_ab, dtype=np.float32)


# ---------------------------------------------------------------------------------------------- RAFT

_raft_cache: dict[tuple[Any, ...], Any] = {}
_raft_lock = threading.Lock()


def _load_raft(weights: str | os.PathLike, model: str, device: Any) -> Any:
    """Build torchvision's RAFT with weights=None and load the user's state dict into it (cached)."""
    import torch
    from torchvision.models.optical_flow import raft_large, raft_small

    path = os.path.abspath(os.fspath(weights))
    if not os.path.isfile(path):
        raise FileNotFoundError(f"flow.estimate(method='raft'): weights file not found: {path}")
    stat = os.stat(path)
    key = (path, stat.st_mtime_ns, stat.st_size, model, str(device))
    with _raft_lock:
        if key in _raft_cache:
            return _raft_cache[key]
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # a corrupt or non-torch file: say which file and why
            raise ValueError(
                f"flow.estimate(method='raft'): expected {path} to be a torch state dict file, "
                f"could not load it ({type(exc).__name__}: {exc})"
            ) from exc
        if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError(
                f"flow.estimate(method='raft'): expected {path} to hold a state dict (name -> tensor), "
                f"got {type(state).__name__}"
            )
        builders = {"large": raft_large, "small": raft_small}
        if model == "auto":
            # Only raft_large has batch-norm layers in its context encoder: pick by that key instead of
            # building both networks.
            model = "large" if "context_encoder.convnormrelu.1.running_mean" in state else "small"
        net = builders[model](weights=None, progress=False)
        problem = _state_dict_mismatch(net, state)
        if problem:
            raise ValueError(
                f"flow.estimate(method='raft'): expected {path} to be a state dict of torchvision "
                f"raft_{model}, but it does not fit: {problem}"
            )
        net = net.eval().to(device)
        _raft_cache[key] = net
        return net


def _state_dict_mismatch(net: Any, state: dict[str, Any]) -> str:
    """Load ``state`` into ``net``; return '' if every key and shape fits, else a one-line reason."""
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong_shape = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    reasons = []
    if missing:
        reasons.append(f"{len(missing)} missing keys (e.g. {missing[0]})")
    if unexpected:
        reasons.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
    if wrong_shape:
        k = wrong_shape[0]
        reasons.append(
            f"{len(wrong_shape)} tensors of the wrong shape (e.g. {k}: expected {tuple(expected[k].shape)}, "
            f"got {tuple(state[k].shape)})"
        )
    if not reasons:
        net.load_state_dict(state, strict=True)
    return "; ".join(reasons)


def _estimate_raft(a: np.ndarray, b: np.ndarray, **options: Any) -> np.ndarray:
    _check_options("flow.estimate(method='raft')", options, _RAFT_OPTIONS)
    weights = options.get("weights")
    if weights is None:
        raise ValueError(
            "flow.estimate(method='raft'): expected weights=PATH to a torchvision RAFT state dict "
            "(raft_large or raft_small), got none; nothing is downloaded, so name a file you have, "
            "or use method='dis'"
        )
    model = options.get("model", "auto")
    if model not in ("auto", "large", "small"):
        raise ValueError(f"flow.estimate(method='raft'): expected model in ('auto', 'large', 'small'), got {model!r}")
    import torch
    import torch.nn.functional as nnf

    device = options.get("device") or ("cuda" if torch.cuda.is_available() else "cpu")
    net = _load_raft(weights, model, device)

    def to_tensor(img: np.ndarray) -> torch.Tensor:
        if img.ndim == 2:
            img = np.repeat(img[..., None], 3, axis=2)
        x = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].to(device)
        x = x.float() / 255.0 if img.dtype == np.uint8 else x.float()
        return x * 2.0 - 1.0  # torchvision's RAFT weights expect [-1, 1]

    H, W = a.shape[:2]
    # RAFT needs H and W divisible by 8, and at least 128 (its correlation pyramid halves the 1/8-size
    # feature maps three times): pad right and bottom by replication, crop the flow back.
    pad_h = max(H + (-H) % 8, _RAFT_MIN_SIDE) - H
    pad_w = max(W + (-W) % 8, _RAFT_MIN_SIDE) - W
    x_a, x_b = to_tensor(a), to_tensor(b)
    if pad_h or pad_w:
        x_a = nnf.pad(x_a, (0, pad_w, 0, pad_h), mode="replicate")
        x_b = nnf.pad(x_b, (0, pad_w, 0, pad_h), mode="replicate")
    with torch.inference_mode():
        predictions = net(x_a, x_b, num_flow_updates=int(options.get("num_flow_updates", 12)))
    flow_ab = predictions[-1][0, :, :H, :W]  # (2, H, W), channel 0 = x, same convention as ours
    return np.ascontiguousarray(flow_ab.permute(1, 2, 0).float().cpu().numpy())
