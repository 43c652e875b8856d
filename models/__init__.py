"""Warehouse tables and typed Studio payloads."""
