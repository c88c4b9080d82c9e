"""Falco's condition language: syntax tree, parser, and compiler."""
