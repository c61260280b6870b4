"""gristops: a secure gateway and operations system for apps built on Grist."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gristops")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0"
