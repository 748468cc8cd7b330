"""Invoke task collections; the root collection is assembled from these."""
