"""Baseline-vs-candidate reports: ``compare`` builds them, ``render`` writes them, ``check`` gates CI.

``schema`` holds the versioned report format. Nothing here imports training code.
"""
