"""Image to image, model-free: an image input on the form takes a file from the test's folder.

The workflow's Form panel (workflows/image-to-image.json): 0 Image, 1 Width, 2 Height, 3 Resampling,
4 Hue rotation. The asset is uploaded once per run (as an intermediate image, so it stays out of the
gallery) and fed to the Image field.
"""

from pathlib import Path

import pytest

SHAPES = Path("assets/shapes.png")  # relative to this file


@pytest.mark.invokeai(
    workflow="workflows/image-to-image.json",
    inputs={0: SHAPES},
    matrix={3: ["nearest", "bicubic"], 4: [0, 120]},
)
def test_resize_and_hue(invokeai_run):
    invokeai_run().assert_matches_baseline()
