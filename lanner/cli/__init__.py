"""The ``lanner`` command line: argument handling and the adapters that touch files."""
