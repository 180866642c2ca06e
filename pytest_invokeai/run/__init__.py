"""The engine of a suite, with no pytest inside: settings, run state, gate, scheduler, judge, progress."""
