"""Sales performance analytics: the core behind the dashboard and the CLI.

This package never imports streamlit (tests/test_import_hygiene.py enforces it), so the
same figures serve pages, scheduled reports and scripts.
"""
