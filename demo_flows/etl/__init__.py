"""Extract/transform/load flows (grouped under `etl`)."""
