"""Thin effects: files, YAML, git, the Prefect and GitHub APIs, the local server.

Nothing here decides anything; it fetches and stores on behalf of the use cases.
"""
