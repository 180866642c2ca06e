"""``pytest-invokeai review``: the run's report in a browser, with a button that accepts a case.

- :mod:`.page`: the report's HTML with the review script added (pure);
- :mod:`.app`: the web application (needs the ``review`` extra: starlette), the token and Host checks;
- ``review.js``: the script that adds the ``Accept`` buttons to each element carrying ``data-test-id``.
"""
