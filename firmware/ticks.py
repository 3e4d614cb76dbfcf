"""Millisecond tick arithmetic that behaves like MicroPython's on any host.

The firmware is handed `now_ms` values; on the device they come from
time.ticks_ms(), which wraps every 2**30 ms (12.4 days), so differences are
always taken modulo that period. 2**30 itself is not an ESP32 small int (those
are 31-bit signed), so the hot path only uses 2**30 - 1 and 2**29.
"""
from micropython import const

_TICKS_MAX = const((1 << 30) - 1)
_TICKS_HALF = const(1 << 29)


def ticks_diff(new, old):
    """Signed new - old in ms, correct across one wrap."""
    d = (new - old) & _TICKS_MAX
    if d >= _TICKS_HALF:
        d = d - _TICKS_HALF - _TICKS_HALF  # d - 2**30 without a big int
    return d


def ticks_add(t, delta):
    return (t + delta) & _TICKS_MAX
