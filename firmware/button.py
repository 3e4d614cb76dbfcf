"""The householder's button: debounced press and hold detection, polled.

poll(now_ms) reads the pin once; a new level counts only after it has been
seen unchanged for debounce_ms (with the loop's 500 ms polls a one-poll
glitch shorter than that is ignored when debounce_ms >= 1). After poll():
`pressed` is True on the pass the press is accepted, `held` on the pass the
hold reaches hold_ms (once per press); `down` is the debounced level.
"""
from micropython import const

from ticks import ticks_diff

HOLD_MS = const(3000)


class Button:
    def __init__(self, pin, active_low=True, debounce_ms=0, hold_ms=HOLD_MS):
        self.pin = pin
        self.active = 0 if active_low else 1
        self.debounce_ms = debounce_ms
        self.hold_ms = hold_ms
        self.down = False
        self.pressed = False
        self.held = False
        self._raw = False
        self._raw_ms = 0  # when the raw level last changed
        self._down_ms = 0  # when the debounced press began
        self._hold_done = False

    def poll(self, now_ms):
        self.pressed = False
        self.held = False
        raw = self.pin.value() == self.active
        if raw != self._raw:
            self._raw = raw
            self._raw_ms = now_ms
        if raw != self.down and ticks_diff(now_ms, self._raw_ms) >= self.debounce_ms:
            self.down = raw
            if raw:
                self.pressed = True
                self._down_ms = self._raw_ms
                self._hold_done = False
        if self.down and not self._hold_done and ticks_diff(now_ms, self._down_ms) >= self.hold_ms:
            self.held = True
            self._hold_done = True
