"""Buzzer: a non-blocking pattern sequencer on a pin.

A pattern is a tuple of durations in ms, alternately on and off, starting
with on and ending with an off gap (so two patterns never run together). poll(now_ms) switches the pin when a step's time is up, so the step
resolution is the polling period (500 ms in the loop; a board with a faster
loop or a timer calling poll gets finer steps). One pattern plays at a time;
a higher-priority pattern pre-empts, a lower one waits in one pending slot.

Policy (the caller decides what is a warning): quiet hours and the silence
button apply to the periodic balance warnings only; token feedback,
"disconnect imminent" and "relay opened" always sound.
"""
from micropython import const

from ticks import ticks_add, ticks_diff

_S = const(500)  # one short beep / gap: the loop period
_L = const(2000)  # one long tone

TOKEN_ACCEPTED = (_S, _S)  # 1 short
TOKEN_REJECTED = (_S, _S, _S, _S, _S, _S)  # 3 short
ALARM1 = (_S, _S, _S, _S)  # 2 short
ALARM2 = (_S, _S, _S, _S, _S, _S, _S, _S)  # 4 short
EMERGENCY = (_L, _S, _S, _S)  # long + short
IMMINENT = (_L, _S, _L, _S)  # 2 long
RELAY_OPENED = (_L, _S)  # 1 long

PRIO_WARNING = const(1)
PRIO_RELAY = const(2)
PRIO_TOKEN = const(3)


class Buzzer:
    def __init__(self, pin, on_level=1):
        self.pin = pin
        self.on_level = on_level
        self.pattern = None
        self.prio = 0
        self.step = 0
        self.step_ms = 0
        self.pending = None
        self.pending_prio = 0
        self.played = 0  # patterns started (for tests and the console)
        pin.value(1 - on_level)

    def play(self, pattern, prio, now_ms):
        if self.pattern is None or prio > self.prio:
            self._start(pattern, prio, now_ms)
        elif prio >= self.pending_prio:
            self.pending = pattern
            self.pending_prio = prio

    def _start(self, pattern, prio, now_ms):
        self.pattern = pattern
        self.prio = prio
        self.step = 0
        self.step_ms = now_ms
        self.played += 1
        self.pin.value(self.on_level)

    def busy(self):
        return self.pattern is not None

    def poll(self, now_ms):
        p = self.pattern
        if p is None:
            return
        while ticks_diff(now_ms, self.step_ms) >= p[self.step]:
            self.step_ms = ticks_add(self.step_ms, p[self.step])
            self.step += 1
            if self.step >= len(p):
                self.pin.value(1 - self.on_level)
                self.pattern = None
                self.prio = 0
                if self.pending is not None:
                    q = self.pending
                    pr = self.pending_prio
                    self.pending = None
                    self.pending_prio = 0
                    self._start(q, pr, now_ms)
                return
            self.pin.value(self.on_level if self.step % 2 == 0 else 1 - self.on_level)
