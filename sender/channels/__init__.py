"""The channels: one package per way of reaching people, behind one small interface.

    methods["email"]          -> the configured EmailMethod instance
    methods.choices()         -> [(alias, label), ...] for forms
"""

from sender.channels.base import BaseMethod, Draft, Outcome
from sender.channels.registry import methods

__all__ = ["BaseMethod", "Draft", "Outcome", "methods"]
