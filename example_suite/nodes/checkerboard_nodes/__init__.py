"""An example node pack: a checkerboard (or stripes) pattern drawn with no model, the same pixels every time.

The example suite loads it into the managed InvokeAI (``--invokeai-nodes example_suite/nodes`` in the
project's pytest settings) and tests it through ``workflows/checkerboard.json``. Its fields carry bounds
and choices that only the server's live schema knows: the form inputs are typed from it, not guessed.
"""

from typing import Literal

from invokeai.invocation_api import (
    BaseInvocation,
    ColorField,
    ImageOutput,
    InputField,
    InvocationContext,
    WithBoard,
    WithMetadata,
    invocation,
)
from PIL import Image, ImageDraw


@invocation(
    "checkerboard_image",
    title="Checkerboard Image",
    tags=["image", "pattern"],
    category="image",
    version="1.0.0",
)
class CheckerboardImageInvocation(BaseInvocation, WithMetadata, WithBoard):
    """Draws a checkerboard, or stripes, of two colours."""

    width: int = InputField(default=64, ge=8, le=1024, multiple_of=8, description="The width of the image")
    height: int = InputField(default=64, ge=8, le=1024, multiple_of=8, description="The height of the image")
    cell_size: int = InputField(default=8, ge=1, le=256, description="The side of one cell, in pixels")
    pattern: Literal["squares", "stripes"] = InputField(default="squares", description="Squares or vertical stripes")
    color_a: ColorField = InputField(default=ColorField(r=0, g=0, b=0, a=255), description="The first colour")
    color_b: ColorField = InputField(default=ColorField(r=255, g=255, b=255, a=255), description="The second colour")

    def invoke(self, context: InvocationContext) -> ImageOutput:
        image = Image.new("RGB", (self.width, self.height), self.color_a.tuple()[:3])
        draw = ImageDraw.Draw(image)
        for top in range(0, self.height, self.cell_size):
            for left in range(0, self.width, self.cell_size):
                column, row = left // self.cell_size, top // self.cell_size
                second = column % 2 == 1 if self.pattern == "stripes" else (column + row) % 2 == 1
                if second:
                    box = (left, top, left + self.cell_size - 1, top + self.cell_size - 1)
                    draw.rectangle(box, fill=self.color_b.tuple()[:3])
        image_dto = context.images.save(image=image)
        return ImageOutput.build(image_dto)
