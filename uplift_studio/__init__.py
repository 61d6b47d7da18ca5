"""Uplift Studio: target the persuadables under a fixed budget, and prove the money it makes.

Importing this package (or ``uplift_studio.core``) never imports panel, holoviews, bokeh or param:
the app is a thin layer over the core and is imported only from ``uplift_studio.app``.
"""

__version__ = "0.1.0"
