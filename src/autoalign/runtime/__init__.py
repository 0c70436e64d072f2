"""Typed config, the run store (atomic writes, resume) and progress display."""
