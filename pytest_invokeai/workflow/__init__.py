"""Exported workflows: the document, its form inputs by index, values, InvokeAI's node schema, the GUI's graph, drift."""
