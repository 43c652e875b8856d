"""Nightly label-noise tracking for Edge Impulse projects."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("labelnoise")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"
