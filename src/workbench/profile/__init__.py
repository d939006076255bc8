"""Profiling: a snapshot becomes the data migration map."""
