"""Talking to any InvokeAI: the typed HTTP client, events, enqueueing and waiting, outputs, uploads, boards, AI models."""
