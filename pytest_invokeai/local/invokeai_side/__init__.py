"""Scripts that run inside InvokeAI's own Python (its environment), never imported by the plugin:
the launcher and the tiny SD-1.5 builder. They import nothing from pytest-invokeai."""
