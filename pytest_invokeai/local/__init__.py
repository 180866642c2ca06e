"""Owning a local InvokeAI: installing it, starting the managed server, installing models into it."""
