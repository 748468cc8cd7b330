"""Use cases: gather (io) -> decide (core) -> show -> apply (io) -> report.

They return values and never print; a `Reporter` is told what happens so that
the CLI can show it while the Python facade stays silent.
"""
