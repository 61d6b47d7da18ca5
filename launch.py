"""``panel serve launch.py``: the analyst's app on the default simulated campaign (150,000 users, seed 7),
a $100,000 budget at $2 per contact.

Panel runs this script once per browser session, so it only builds the page: the models are fitted once per
process in a worker thread (and cached on disk), and every later session shows the finished analysis at once.
"""

from uplift_studio.app.server import TITLE, build_dashboard

build_dashboard().servable(title=TITLE)
