"""Shared fixtures: the network is loaded once per session; sample images are found in samples/
(or, before samples/ exists, in ../shared/data/styles beside the checkout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

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
    # Tests run on 2-core CI machines; keep torch from oversubscribing when pytest-xdist is not used.
    torch.set_num_threads(2)
    yield
