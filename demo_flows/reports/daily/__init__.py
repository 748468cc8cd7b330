"""Daily reports (grouped under `reports/daily`)."""
