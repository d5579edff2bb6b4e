"""Core layer: the types, configuration, errors and 360° geometry every other layer shares.

Imports nothing of ours outside `ego360.core` (checked by tests/test_architecture.py).
"""
