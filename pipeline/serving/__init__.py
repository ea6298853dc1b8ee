"""Serving: what users read — the offline risk map (and the HTTP API, notifications).
May import every layer below the entry points."""
