"""The public API (vidstyle/__init__.py, vidstyle/api.py): docs/API.md's examples run as written,
and a typed script that imports only ``vidstyle`` renders the bundled clip with audio."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _blocks(page: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", page.read_text(), re.S)


def test_the_api_page_examples_run_in_order(tmp_path, monkeypatch):
    blocks = _blocks(ROOT / "docs" / "API.md")
    assert len(blocks) >= 6  # a still, a clip, a sequence, a model, an engine, errors
    (tmp_path / "samples").symlink_to(ROOT / "samples")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "api_page"}
    for number, code in enumerate(blocks, 1):
        try:
            exec(compile(code, f"docs/API.md block {number}", "exec"), namespace)
        except Exception as error:  # name the block that failed
            raise AssertionError(f"docs/API.md block {number} failed: {error!r}") from error
    assert (tmp_path / "styled.0004.png").is_file() and (tmp_path / "clip_poster.mp4").is_file()


def test_public_names_resolve_and_import_vidstyle_loads_no_torch():
    code = ("import sys, vidstyle; assert 'torch' not in sys.modules, 'torch loaded by import vidstyle'; "
            "missing = [n for n in vidstyle.__all__ if getattr(vidstyle, n, None) is None]; assert not missing, missing; "
            "assert issubclass(vidstyle.UsageError, (vidstyle.VidstyleError, ValueError)); "
            "assert issubclass(vidstyle.Interrupted, KeyboardInterrupt)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    import vidstyle

    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        vidstyle.nonsense  # noqa: B018


def test_the_typed_example_renders_the_clip_with_audio_importing_only_vidstyle(tmp_path):
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(ROOT / "docs" / "api_example.py"), str(ROOT / "samples"), str(tmp_path)],
                          capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "48 frame" in done.stdout and (tmp_path / "clip_starry.mp4").is_file()
