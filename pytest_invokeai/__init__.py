"""pytest-invokeai: regression tests for InvokeAI workflows."""

__version__ = "0.1.0"
