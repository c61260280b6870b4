"""The one configuration object: `load_config(path)` returns a frozen `Config`."""

from gristops.config.load import env_names, load_config, parse_config
from gristops.config.model import Config

__all__ = ["Config", "env_names", "load_config", "parse_config"]
