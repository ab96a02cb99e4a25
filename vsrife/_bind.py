"""Deprecated alias of :mod:`vsrife.plugin.bind` (``import vsrife._bind`` was documented before 3.1)."""

from .plugin.bind import IDENTIFIER, bind, plugin_rife, plugin_status, status_message

__all__ = ["IDENTIFIER", "bind", "plugin_rife", "plugin_status", "status_message"]
