"""The ``lanner`` command line: argument handling and the adapters that touch files.

The composition root of the commands: it may import every other package (the core through
its public API); nothing imports it (tests/test_layers.py).
"""
