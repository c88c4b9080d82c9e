"""Event sources: their field registries and how to read their events."""
