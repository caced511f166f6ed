"""The engine a request asks for: the one place that chooses between the optimiser
(:class:`~vidstyle.temporal.VideoStylizer`, optionally started from a network: the hybrid) and a
trained transfer network (:class:`~vidstyle.model.engine.ModelEngine`), for the local loop
(:mod:`vidstyle.pipeline`) and the scale-out's workers (:mod:`vidstyle.shots.worker`) alike. The
matte wrapper is the caller's. No I/O besides loading the model files."""

from __future__ import annotations

from typing import Any

from .engine import Engine
from .errors import UsageError
from .request import StylizeRequest

__all__ = ["build_engine", "check_model_request"]


def check_model_request(request: StylizeRequest, size: tuple[int, int]) -> None:
    """Refuse, before any work, a model whose file, styles or size do not fit the request."""
    from .model.engine import check_model_size, style_vector
    from .model.file import read_info

    assert request.model is not None
    info = read_info(request.model)
    style_vector(request.style_weights, info.architecture.styles)
    if request.style_keys is not None and request.style_keys.styles != info.architecture.styles:
        raise UsageError(f"--style-keys weigh {request.style_keys.styles} style(s) but the model has {info.architecture.styles}")
    check_model_size(size)


def build_engine(request: StylizeRequest, size: tuple[int, int], styles: list, device: Any, stylizer: Any = None) -> Engine:
    """The engine a request asks for, before any matte: the trained network (``model``), the
    arbitrary-style decoders (``config.engine == "arbitrary"``), or the
    optimiser with its temporal term (``stylizer``: an already built
    :class:`~vidstyle.optimize.Stylizer` to reuse, else one is built from ``styles``), started from a
    network's output with ``init_model``; with ``deflicker``, wrapped in the deflicker stage
    (:class:`~vidstyle.deflicker.DeflickeredEngine`). The one place that chooses, for the local loop
    and the scale-out's workers alike."""
    engine = _stylising_engine(request, size, styles, device, stylizer)
    if request.deflicker is None:
        return engine
    from .deflicker import DeflickeredEngine

    return DeflickeredEngine(engine, request.config, request.deflicker, network=_feature_network(engine))


def _feature_network(engine: Engine) -> Any:
    """The VGG-19 a stylising engine holds (the optimiser's, the arbitrary decoders' encoder; None
    for a transfer network), so that the deflicker stage's re-synthesis shares it: both load
    ``config.weights``, and a second copy is only memory and load time."""
    from .model.arbitrary import ArbitraryEngine
    from .temporal import VideoStylizer

    if isinstance(engine, (VideoStylizer, ArbitraryEngine)):
        return engine.stylizer.network
    return None


def _stylising_engine(request: StylizeRequest, size: tuple[int, int], styles: list, device: Any, stylizer: Any) -> Engine:
    config = request.config
    if request.model:
        from .model.engine import ModelEngine
        from .model.file import load_model

        net, _ = load_model(request.model, device)
        return ModelEngine(net, size, request.style_weights, request.style_keys, device=device, dtype=config.dtype)
    if config.engine == "arbitrary":
        from .model.arbitrary import ArbitraryEngine, build_arbitrary

        return ArbitraryEngine(build_arbitrary(config, styles, size, device), size, config,
                               stabilise=config.stabilise if config.temporal else 0.0, weights=request.style_weights,
                               style_keys=request.style_keys, device=device)
    from .optimize import Stylizer
    from .temporal import VideoStylizer

    if stylizer is None:
        weights = list(request.style_weights) if request.style_weights else None
        stylizer = Stylizer(config, styles, weights, device=device)
    initializer = None
    if config.init == "arbitrary":
        from .model.arbitrary import build_arbitrary

        initializer = _arbitrary_start(build_arbitrary(config, styles, size, device, network=stylizer.network), request)
    if request.init_model:
        from .model.engine import ModelEngine
        from .model.file import load_model

        net, info = load_model(request.init_model, device)
        # The model's own styles: the request's weights when it has as many as -s, else an even blend.
        same = info.architecture.styles == len(styles)
        initializer = ModelEngine(net, size, request.style_weights if same else None, device=device, dtype=config.dtype).stylize_images
    return VideoStylizer(stylizer, size, temporal=config.temporal, generator_seed=config.seed,
                         style_keys=request.style_keys, initializer=initializer)


def _arbitrary_start(arbitrary: Any, request: StylizeRequest) -> Any:
    """``--init arbitrary``: fresh frames start from the decoders' output toward the same styles."""
    weights = list(request.style_weights) if request.style_weights else None

    def start(content: Any) -> Any:
        return arbitrary.stylize(content, weights)

    return start
