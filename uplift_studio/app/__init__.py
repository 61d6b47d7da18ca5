"""The analyst's Panel app and the executive snapshot: a thin reactive layer over ``uplift_studio.core``."""
