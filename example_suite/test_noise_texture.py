"""Noise textures, model-free: a Python test over a matrix of the workflow's form inputs.

The workflow's Form panel (workflows/noise-texture.json): 0 Width, 1 Height, 2 Seed, 3 Noise amount,
4 Blur radius. Two seeds times two blur radii make four tests, each with its own baseline.
"""

import io

import pytest
from PIL import Image

NOISE = "workflows/noise-texture.json"


@pytest.mark.invokeai(workflow=NOISE, inputs={0: 64, 1: 48}, matrix={2: [7, 8], 4: [0.0, 2.0]})
def test_noise_texture(invokeai_run):
    invokeai_run().assert_matches_baseline()


@pytest.mark.invokeai(workflow=NOISE, inputs={0: 96, 1: 32, 2: 3})
def test_output_has_the_size_of_the_form(invokeai_run):
    result = invokeai_run()
    assert Image.open(io.BytesIO(result.png("Output"))).size == (96, 32)
    result.assert_matches_baseline()
