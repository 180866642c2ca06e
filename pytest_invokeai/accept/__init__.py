"""Accepting a finished run's results as baselines, without generating again.

- :mod:`.candidate`: what a run keeps in its results folder for each case that did not match (the record it
  would have written with an update mode on, and where its images are), and for each drifted case;
- :mod:`.selection`: which cases a request names and what becomes of each (pure);
- :mod:`.apply`: reads the results, refuses what must not be accepted, writes the baselines;
- :mod:`.command`: the ``pytest-invokeai accept`` command line that a failure message prints.
"""
