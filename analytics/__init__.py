"""Sales performance analytics: the core behind the dashboard and the CLI.

This package never imports streamlit (tests/test_import_hygiene.py enforces it), so the
same figures serve pages, scheduled reports and scripts.
"""

import logging

# A library's loggers stay silent unless the application configures logging: a user of
# the command line must never see a traceback, the server log (issue 7) keeps them.
logging.getLogger("analytics").addHandler(logging.NullHandler())
