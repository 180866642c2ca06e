"""pytest glue (thin): options, markers and fixtures. The logic lives in the plain modules beside it."""
