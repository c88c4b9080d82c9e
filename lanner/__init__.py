"""lanner: Falco's rule language, compiled to Python."""
