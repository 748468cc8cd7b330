"""The pure core of flowportal: values and decisions, no I/O.

Everything here takes text and data in and returns data out, so it can be
property-tested exhaustively and reused by every entry point.
"""
