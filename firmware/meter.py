"""The meter: wires driver -> metrology (and, as they arrive, tariff, prepay,
storage, console) and advances them on an explicit `now`.

Both main.py (real machine.SPI/Pin) and host_sim (simulated board) build this
same object; nothing in here knows whether the chip is real.
"""
import ade7753
import board
from metrology import Metrology


class Meter:
    def __init__(self, spi, cs, calibration, clkin_hz=board.CLKIN_HZ):
        self.chip = ade7753.ADE7753(spi, cs, clkin_hz)
        self.metrology = Metrology(self.chip, calibration, board.IB_MA, board.UN_MV)
        self.chip_errors = 0  # ticks lost to a chip that kept failing its checks
        self.events = []  # (now_ms, kind, detail), drained by storage/console later

    def start(self, now_ms):
        self.metrology.start(now_ms)

    def tick(self, now_ms):
        """One pass of the main loop. Never raises for a misbehaving chip."""
        try:
            self.metrology.tick(now_ms)
        except ade7753.ADE7753Error as e:
            self.chip_errors += 1
            self.events.append((now_ms, "chip_error", str(e)))
            return False
        if self.metrology.events:
            self.events.extend(self.metrology.events)
            self.metrology.events.clear()
        return True
