"""Prefect flows: one project run, and the nightly run over every project."""
