"""Exports: pure formatting of findings (JSON, CSV, OCSF) and the HTML report."""
