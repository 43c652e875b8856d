"""The warehouse side of a run: lifecycle rows, payload archive and the COPY loader.

Modules: `runs` (run lifecycle), `archive` (raw payloads), `flatten`
(results to COPY text), `loader` (one transaction per load).
"""
