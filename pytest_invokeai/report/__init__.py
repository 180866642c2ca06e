"""The end of a run for people and tools: results, artifacts, the HTML report, the JSON summary, JUnit properties."""
