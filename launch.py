"""Entry point for ``panel serve launch.py``: builds the analyst's app on the default simulated campaign."""

import panel as pn

from uplift_studio.core.readout import ab_readout, format_readout
from uplift_studio.core.simulate import simulate_campaign

readout = ab_readout(simulate_campaign())
pn.Column("# Uplift Studio", pn.pane.Markdown(f"```\n{format_readout(readout)}\n```")).servable(title="Uplift Studio")
