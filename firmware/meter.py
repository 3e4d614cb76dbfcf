"""The meter: wires driver -> metrology (and, as they arrive, tariff, prepay,
storage, console) and advances them on an explicit `now`.

Both main.py (real machine.SPI/Pin) and host_sim (simulated board) build this
same object; nothing in here knows whether the chip is real.
"""
from micropython import const

import ade7753
import board
from calibration import CalibrationError
from metrology import Metrology

_EVENTS_MAX = const(32)  # newest events kept in RAM until storage takes them


class Meter:
    def __init__(self, spi, cs, calibration, clkin_hz=board.CLKIN_HZ,
                 ib_ma=board.IB_MA, un_mv=board.UN_MV):
        if calibration.clkin_hz != clkin_hz:
            raise CalibrationError(
                "calibration: made for a %d Hz ADE7753 clock, this board has %d Hz"
                % (calibration.clkin_hz, clkin_hz)
            )
        self.chip = ade7753.ADE7753(spi, cs, clkin_hz)
        self.metrology = Metrology(self.chip, calibration, ib_ma, un_mv)
        self.started = False
        self.chip_errors = 0  # ticks lost to a chip that was absent or kept failing
        self.events = []  # (now_ms, kind, detail), newest last, at most _EVENTS_MAX
        self.events_dropped = 0

    def _event(self, now_ms, kind, detail):
        if len(self.events) >= _EVENTS_MAX:
            self.events.pop(0)
            self.events_dropped += 1
        self.events.append((now_ms, kind, detail))

    def start(self, now_ms):
        """Bring the chip up. A missing or failing chip is logged, not fatal:
        every tick tries again, so a meter whose chip recovers starts metering."""
        try:
            self.metrology.start(now_ms)
        except ade7753.ADE7753Error as e:
            self.chip_errors += 1
            self._event(now_ms, "chip_error", str(e))
            return False
        self.started = True
        return True

    def tick(self, now_ms):
        """One pass of the main loop. Never raises for a misbehaving chip."""
        if not self.started:
            return self.start(now_ms)
        ok = True
        try:
            self.metrology.tick(now_ms)
        except ade7753.ADE7753Error as e:
            self.chip_errors += 1
            self._event(now_ms, "chip_error", str(e))
            ok = False
        events = self.metrology.events
        if events:  # rare: only allocation-free when empty
            for ev in events:
                self._event(ev[0], ev[1], ev[2])
            events.clear()
        return ok
