"""Reporting flows (grouped under `reports`)."""
