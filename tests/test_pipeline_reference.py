"""The render pipeline gives the frames it gave before it was refactored (issue 14).

``tests/data/pipeline_reference_{avx2,avx512,avx512_amd}.npz`` hold the frames of each case of
``pipeline_cases.py`` as rendered by the code before the one frame loop and the engine interface
existed (commit b4fe640), one recording per CPU kernel family and vendor (``pipeline_cases.REFERENCES``;
a second one for a case where another processor of the family rounded differently, ``pipeline_cases.ALSO``). The
same commands today must give the same frames on a machine of that family: the same uint8 values,
not close ones. On a CPU of another family there is nothing to compare with, and the test says so.
"""

from __future__ import annotations

import numpy as np
import pytest

import pipeline_cases


@pytest.fixture(scope="module")
def reference():
    """Each case's recordings for this CPU's kernel family (several where processors of one family
    rounded differently: pipeline_cases.ALSO)."""
    paths = pipeline_cases.reference_paths()
    if not paths:
        pytest.skip(f"no reference recorded for {pipeline_cases.cpu_family()} kernels (see pipeline_cases.REFERENCES)")
    recordings: dict[str, list[np.ndarray]] = {}
    for path in paths:
        with np.load(path) as data:
            for name in data.files:
                recordings.setdefault(name, []).append(data[name])
    return recordings


@pytest.mark.parametrize("name", list(pipeline_cases.CASES))
def test_frames_equal_the_pre_refactor_reference(name, reference, tmp_path):
    if name not in reference:
        pytest.skip(f"{name}: not recorded for this CPU's kernels ({pipeline_cases.UNRECORDED.get(name, 'see pipeline_cases')})")
    frames = pipeline_cases.run_case(name, tmp_path)
    differences = []
    for expected in reference[name]:
        assert frames.shape == expected.shape, f"{name}: {frames.shape} frames, the reference has {expected.shape}"
        differences.append(int(np.abs(frames.astype(np.int16) - expected.astype(np.int16)).max()))
    assert min(differences) == 0, f"{name}: frames differ from each recording by up to {differences}/255"
