"""Names from InvokeAI's workflow format that the form reader and the graph builder share.

They live apart from :mod:`.document` (the classes of a workflow file) and :mod:`.graph` so that
the modules the pytest plugin imports in every pytest run, most of which never load a workflow,
need neither.
"""

from __future__ import annotations

#: ``meta.version`` values this package loads. 3.0.0 is migrated to 4.0.0 on load.
SUPPORTED_VERSIONS = ("3.0.0", "4.0.0")
CURRENT_VERSION = "4.0.0"

#: Node types that exist only in the editor and never reach the server.
BATCH_NODE_TYPES = frozenset({"image_batch", "string_batch", "integer_batch", "float_batch"})
GENERATOR_NODE_TYPES = frozenset({"image_generator", "string_generator", "integer_generator", "float_generator"})

#: Form element types, and those that are only decoration (they take no input index).
CONTAINER = "container"
NODE_FIELD = "node-field"
DECORATION_ELEMENTS = frozenset({"heading", "text", "divider"})
FORM_ELEMENT_TYPES = frozenset({CONTAINER, NODE_FIELD}) | DECORATION_ELEMENTS

#: A board field with no value: the web UI reads it as "auto" (the board the queue item picks).
AUTO_BOARD = "auto"
