"""The numerical core: numpy, polars, xgboost and scikit-learn only (no param, panel, holoviews, bokeh)."""
