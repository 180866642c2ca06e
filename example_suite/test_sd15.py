"""Real text-to-image with Stable Diffusion 1.5 architecture, on the CPU.

`models=["tiny-sd15"]` declares the model the test needs: on the managed local server the plugin builds a
tiny SD-1.5 checkpoint (fixed-seed random weights, about 27 MB, no download) and installs it before the
first case runs. On a server of yours that lacks it, the tests are skipped and say which model is missing.

The workflow's Form panel (workflows/sd15-text-to-image.json): 0 Model, 1 Prompt, 2 Negative prompt,
3 Seed, 4 Width, 5 Height, 6 Steps, 7 CFG scale, 8 Scheduler.
"""

import pytest


@pytest.mark.invokeai(
    workflow="workflows/sd15-text-to-image.json",
    models=["tiny-sd15"],
    matrix={1: ["a lighthouse on a cliff at dusk", "a red fox in fresh snow"], 3: [1, 2]},
)
def test_text_to_image(invokeai_run):
    invokeai_run().assert_matches_baseline()
