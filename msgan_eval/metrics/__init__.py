"""Metric maths: pure functions on arrays. No file I/O, no devices, no weights here."""
