"""Prefect tasks of a project run, one module per step and I/O boundary.

`studio` talks to Studio (read the project, trigger, wait, fetch), `runs`
keeps the run row, `load` and `diff` write the warehouse, and `report`
publishes the artifact and the regression event.
"""
