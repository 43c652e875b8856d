"""Tests of the Studio client, its payload models and URL redaction."""
