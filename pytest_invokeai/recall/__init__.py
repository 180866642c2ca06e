"""Recall a test case into the InvokeAI web UI (``POST /api/v1/recall/{queue_id}``).

- :mod:`.graphview`: follows a workflow's data edges back to where a value comes from;
- :mod:`.mapping`: a workflow plus a case's input values -> recall parameters, by what the fields are (pure);
- :mod:`.cases`: finds a case by test id in the baselines or in the last run's summary;
- :mod:`.apply`: sends the parameters to a server and sets what it resolved beside what was sent;
- :mod:`.commands`: the ``pytest-invokeai recall`` and ``curl`` lines the HTML report shows.
"""
