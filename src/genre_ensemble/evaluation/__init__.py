"""Combining the members (:mod:`.combine`), scoring the test clips (:mod:`.metrics`), the
per-clip outcomes that paired comparisons read (:mod:`.outcomes`) and the confusion figure."""
