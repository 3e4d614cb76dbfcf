"""The metering service: the ADE7753 source feeding the metrology core.

Both the device (app.py, real machine.SPI/Pin) and host_sim (simulated board)
build this same object; nothing in here knows whether the chip is real. It is
one service of the application loop: poll(now_ms) once per pass. A chip that is
absent or keeps failing its checks is logged and retried every pass; any other
exception is left to the loop's guard.
"""
import binascii

from micropython import const

import ade7753
import ade7753_source as src
import board
from calibration import CalibrationError
from clock import Clock
from events import EventLog
from metrology import Metrology, count_add

NAME = "metrology"
# A warm-boot record older than this may hide a whole AENERGY revolution
# (2**23 LSB is ~13 min at Imax and 1.15 Un): its baseline is then not used.
_WARM_MAX_AGE_S = const(720)


class Meter:
    name = NAME

    def __init__(self, spi, cs, calibration, clkin_hz=board.CLKIN_HZ,
                 ib_ma=board.IB_MA, un_mv=board.UN_MV, events=None):
        if calibration.clkin_hz != clkin_hz:
            raise CalibrationError(
                "calibration: made for a %d Hz ADE7753 clock, this board has %d Hz"
                % (calibration.clkin_hz, clkin_hz)
            )
        self.chip = ade7753.ADE7753(spi, cs, clkin_hz)
        self.source = src.ADE7753Source(self.chip, calibration)
        self.metrology = Metrology(calibration, ib_ma, un_mv)
        self.events = events if events is not None else EventLog(Clock(_zero_ms))
        self.started = False
        self.warm = False  # the last start found the chip still counting for us
        self.chip_errors = 0  # passes lost to a chip that was absent or kept failing
        self.chip_resets = 0
        self.missed_intervals = 0
        self.rejected_lsb = 0  # implausible AENERGY steps, never registered

    def _chip_error(self, e):
        self.chip_errors += 1
        self.events.log("chip_error", NAME, str(e))

    def start(self, now_ms, stored=None):
        """Bring the chip up. A warm chip (still configured with this
        calibration, no reset since) keeps its count: with `stored` (the
        AENERGY baseline saved together with the registers), what it counted
        since is booked; without, it is lost and logged. A cold chip is reset
        and configured. A missing chip is logged, not fatal: poll() retries."""
        s = self.source
        try:
            if s.is_warm():
                delta = s.warm_start(now_ms, stored)
                self.warm = True
                if stored is None:
                    self.events.log("warm_boot_unsaved", NAME, 0)
                else:
                    self.metrology.book_lump(delta)
                    self.events.log("warm_boot", NAME, delta)
            else:
                self.warm = False
                s.cold_start(now_ms)
                self.events.log("cold_chip", NAME, 0)
        except ade7753.ADE7753Error as e:
            self._chip_error(e)
            return False
        self.started = True
        return True

    def poll(self, now_ms):
        """One pass. Never raises for a misbehaving chip; returns False then."""
        if not self.started:
            return self.start(now_ms)
        s = self.source
        m = self.metrology
        try:
            r = s.poll(now_ms)
            if r == src.OK:
                m.book(s.delta_lsb, s.dt_ms)
            else:
                m.book(0, 0)  # nothing booked this pass
                if r == src.CHIP_RESET:
                    self.chip_resets += 1
                    self.missed_intervals += 1
                    m.stop_window()
                    self.events.log("chip_reset", NAME, s.reset_reason)
                    s.rebaseline(now_ms)
                elif r == src.REJECTED:
                    d = s.delta_lsb
                    self.rejected_lsb = count_add(self.rejected_lsb, d if d >= 0 else -d)
                    self.events.log("implausible_delta", NAME, d)
            if s.aeof_unexplained or s.overdue:
                self.missed_intervals += 1
                self.events.log("missed_interval", NAME, s.dt_ms)
            # Display readings last: if one of these reads fails, the energy
            # above is already booked and the baseline already moved on.
            s.read_display()
        except ade7753.ADE7753Error as e:
            self._chip_error(e)
            return False
        m.vrms_raw = s.vrms_raw
        m.irms_raw = s.irms_raw
        m.period_raw = s.period_raw
        return True

    tick = poll  # the name tests and the replay have always used

    def baseline(self):
        """The AENERGY value the registers correspond to (store it with them)."""
        return self.source.last_raw

    # --- warm-boot record: registers + the AENERGY baseline they match ------
    def snapshot_text(self, clock):
        m = self.metrology
        body = "M1 %d %d %d %d %d %d %d %d" % (
            m.energy_import.num, m.energy_import.kwh, m.energy_import.frac,
            m.energy_export.kwh, m.energy_export.frac, self.source.last_raw,
            clock.day if clock.valid else -1, clock.sod)
        return "%s %d\n" % (body, binascii.crc32(body.encode()))

    def restore_snapshot(self, text, clock):
        """Restore the registers from a snapshot_text(); return its AENERGY
        baseline when it can be trusted for a warm boot (else None). Raises
        ValueError for a corrupt or foreign record, changing nothing."""
        parts = text.split()
        if len(parts) != 10 or parts[0] != "M1":
            raise ValueError("snapshot: not an M1 record")
        body = " ".join(parts[:9])
        try:
            v = [int(p) for p in parts[1:]]
        except ValueError:
            raise ValueError("snapshot: non-numeric field")
        if binascii.crc32(body.encode()) != v[8]:
            raise ValueError("snapshot: crc32 does not match (corrupt record)")
        num, ik, ifr, ek, efr, base, day, sod = v[:8]
        m = self.metrology
        if num != m.energy_import.num:
            # calibrated scale changed: carry the remainder over (< 1 unit lost)
            ifr = ifr * m.energy_import.num // num
            efr = efr * m.energy_import.num // num
            base = None
        m.energy_import.restore(ik, ifr)
        m.energy_export.restore(ek, efr)
        if base is None or day < 0 or not clock.valid:
            return None
        age = (clock.day - day) * 86400 + clock.sod - sod
        if age < 0 or age > _WARM_MAX_AGE_S:
            return None
        return base


def _zero_ms():
    return 0
