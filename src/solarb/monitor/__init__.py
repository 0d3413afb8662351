"""Monitoring: the journal (SQLite WAL), metrics, reports, alerts, dashboard."""
