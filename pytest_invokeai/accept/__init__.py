"""Accepting a finished run's results as baselines, without generating again.

What a run keeps for it is written by the run (:mod:`pytest_invokeai.run.candidate`), with the command line
its failure messages print (:mod:`pytest_invokeai.run.accept_command`). Here:

- :mod:`.selection`: which cases a request names and what becomes of each (pure);
- :mod:`.apply`: reads the results, refuses what must not be accepted, writes the baselines.
"""
