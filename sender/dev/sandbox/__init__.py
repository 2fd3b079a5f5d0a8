"""Loopback stand-ins for the outside world, so every method can be tried offline.

`make run` starts them; the settings' defaults point the methods at them.
"""
