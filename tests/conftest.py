"""Shared fixtures: the network is loaded once per session; sample images are found in samples/
(or, before samples/ exists, in ../shared/data/styles beside the checkout)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# The suite runs in pytest-xdist workers (pyproject's addopts: one per core), each at one thread:
# on this project's 2-core machine two workers at one thread took 414 s where one process at two threads
# took 741 s (most tests are single-threaded: process start-ups, I/O, tiny tensors). The variable
# reaches the renders tests start as child processes, so a child and an in-process render still
# run at the same thread count and compare exactly.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"  # set, not defaulted: a value from outside would break that

import torch  # noqa: E402  (after the thread count is settled)

ROOT = Path(__file__).resolve().parents[1]


def sample_path(name: str) -> Path:
    for folder in (ROOT / "samples", ROOT.parent / "shared" / "data" / "styles"):
        if (folder / name).is_file():
            return folder / name
    pytest.skip(f"sample image {name} not found")


@pytest.fixture(scope="session")
def vgg():
    from vidstyle.features import VGG19Features

    return VGG19Features.load()


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    from vidstyle.io.image import read_image

    return read_image(sample_path("tubingen.jpg"))[0]


@pytest.fixture(scope="session")
def painting() -> np.ndarray:
    from vidstyle.io.image import read_image

    return read_image(sample_path("starry_night.jpg"))[0]


@pytest.fixture(autouse=True)
def _threads():
    # Tests run on 2-core CI machines: 1 thread in each of pytest-xdist's workers, 2 when run without them.
    torch.set_num_threads(1 if os.environ.get("PYTEST_XDIST_WORKER") else 2)
    yield
