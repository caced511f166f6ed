"""vidstyle: flicker-free neural style transfer for video.

Pipeline, one module each: source (vidstyle.io) -> frames (vidstyle.frames) -> flow (package
``flow``) -> warp -> optimiser (vidstyle.optimize, losses, features) -> sink (vidstyle.io).
"""

__version__ = "0.1.0"
