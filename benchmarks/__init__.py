"""Benchmarks of pytest-invokeai against a real InvokeAI: ``python benchmarks/run.py`` (see README.md here)."""
