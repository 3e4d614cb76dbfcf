"""Energy accounting: the chip-independent core of metering.

It is handed signed energy differences in AENERGY LSB of the calibrated scale
(ade7753_source.py moves them out of the chip) and keeps the exact import and
export registers: whole kWh plus a remainder in 1/num kWh, where num/den is the
calibrated number of LSB per kWh, so nothing is rounded and nothing drifts.

No-load cut-off: energy is judged over a window, not per tick, so that LSB
rounding cannot decide it. While stopped, differences gather in a window;
once it holds at least _EVIDENCE_LSB at a mean power at or above the cut-off,
all of it is booked and metering runs; a window that reaches _WINDOW_MS below
the cut-off is withheld whole. While running, every tick books at once and
each _WINDOW_MS window is checked: a window below the cut-off stops it. So a
steady load below the cut-off registers nothing and one at the starting
current registers all of it (at most _EVIDENCE_LSB late).

What was booked is handed on exactly once: billing takes it with
take_import_lsb(). Every hot-path integer stays below 2**30 (ESP32 small
ints), and a steady-state tick allocates nothing.
"""
from micropython import const

_KWH_ROLLOVER = const(1_000_000)  # registers show 999 999.999 kWh, then 0
# Firmware no-load cut-off: half the class 1 starting current (0.004 Ib).
_CUTOFF_PER_MILLE_IB = const(2)
_WINDOW_MS = const(10_000)
# LSB a window must hold before it may start metering: with the +-1 LSB
# quantisation of a difference, 16 LSB judge the mean power to 6 %, and a load
# 10 % below the cut-off needs > 5 s to gather them, when 1 LSB is < 10 %.
_EVIDENCE_LSB = const(16)
_UNBILLED_CAP = const(1 << 28)  # billing stalled this long: stop handing on, count it
# LSB counters stop here: past it they would be big ints (ESP32 small ints are
# 31-bit), and a standby load below the cut-off reaches it in ~16 years.
_COUNT_MAX = const((1 << 30) - 1)


def count_add(total, n):
    """total + n for a non-negative counter, saturating at _COUNT_MAX."""
    return total + n if total <= _COUNT_MAX - n else _COUNT_MAX


class EnergyRegister:
    """Exact, monotonic energy register: whole kWh + remainder in 1/num kWh."""

    def __init__(self, num, den):
        self.num = num  # LSB per kWh is num/den (exact fraction)
        self.den = den
        self.kwh = 0
        self.frac = 0  # 0 <= frac < num, in units of 1/num kWh

    def add_lsb(self, lsb):
        """Add a non-negative count of AENERGY LSB (< 2**23)."""
        self.frac += lsb * self.den
        if self.frac >= self.num:
            whole = self.frac // self.num
            self.frac -= whole * self.num
            self.kwh += whole
            if self.kwh >= _KWH_ROLLOVER:
                self.kwh -= _KWH_ROLLOVER

    def add_units(self, units):
        """Add a non-negative amount in 1/num kWh (the tariff splits LSB at tier
        thresholds, which can fall inside one LSB). units < 2**30 - num."""
        self.frac += units
        if self.frac >= self.num:
            whole = self.frac // self.num
            self.frac -= whole * self.num
            self.kwh += whole
            if self.kwh >= _KWH_ROLLOVER:
                self.kwh -= _KWH_ROLLOVER

    def restore(self, kwh, frac):
        if not (0 <= kwh < _KWH_ROLLOVER and 0 <= frac < self.num):
            raise ValueError("energy register: %d kWh + %d/%d out of range" % (kwh, frac, self.num))
        self.kwh = kwh
        self.frac = frac

    def wh(self):
        """Value in Wh as a float, for display and JSON only."""
        return self.kwh * 1000.0 + self.frac * 1000.0 / self.num

    def micro_wh(self):
        """Exact value in whole uWh (host-side arithmetic: may be a big int)."""
        return self.kwh * 1_000_000_000 + self.frac * 1_000_000_000 // self.num

    def kwh_text(self):
        """'123456.789': the readout form, truncated (never rounds up)."""
        return "%d.%03d" % (self.kwh, self.frac * 1000 // self.num)


class Metrology:
    """Import/export registers, the no-load cut-off, readings at the edge."""

    def __init__(self, calibration, ib_ma, un_mv):
        self.cal = calibration
        num, den = calibration.lsb_per_kwh()
        self.energy_import = EnergyRegister(num, den)
        self.energy_export = EnergyRegister(num, den)
        # ms one LSB takes at the cut-off power. (Big ints are fine here: once.)
        cutoff_mw = ib_ma * _CUTOFF_PER_MILLE_IB * un_mv // 1_000_000
        self.cutoff_ms_per_lsb = max(1, 3_600_000_000_000 * den // (num * max(cutoff_mw, 1)))
        # |lsb| at or above this is above the cut-off for any window (and keeps
        # |lsb| * cutoff_ms_per_lsb under 2**30 below it)
        self._cutoff_guard = ((1 << 30) - 1) // self.cutoff_ms_per_lsb
        self.running = False  # above the cut-off: every tick books at once
        self._win_lsb = 0
        self._win_ms = 0
        # What the last tick measured (display) and booked (billing)
        self.last_delta_lsb = 0
        self.last_dt_ms = 0
        self.tick_import_lsb = 0
        self.tick_export_lsb = 0
        self._unbilled_import_lsb = 0
        self.unbilled_dropped_lsb = 0
        self.withheld_lsb = 0  # energy below the no-load cut-off, never registered
        # Display registers (raw chip values, converted at the edge)
        self.vrms_raw = 0
        self.irms_raw = 0
        self.period_raw = 0

    def _above_cutoff(self, lsb, ms):
        a = lsb if lsb >= 0 else -lsb
        return a >= self._cutoff_guard or a * self.cutoff_ms_per_lsb >= ms

    def _credit(self, lsb):
        if lsb > 0:
            self.energy_import.add_lsb(lsb)
            self.tick_import_lsb += lsb
            u = self._unbilled_import_lsb + lsb
            if u > _UNBILLED_CAP:
                self.unbilled_dropped_lsb = count_add(self.unbilled_dropped_lsb, lsb)
            else:
                self._unbilled_import_lsb = u
        elif lsb < 0:
            self.energy_export.add_lsb(-lsb)
            self.tick_export_lsb -= lsb

    def book(self, delta_lsb, dt_ms):
        """One tick's measured AENERGY difference over dt_ms (0 <= dt_ms, and
        |delta_lsb| < 2**23): register it, or gather it for the cut-off."""
        self.tick_import_lsb = 0
        self.tick_export_lsb = 0
        self.last_delta_lsb = delta_lsb
        self.last_dt_ms = dt_ms
        w = self._win_lsb + delta_lsb
        ms = self._win_ms + dt_ms
        if self.running:
            self._credit(delta_lsb)
            if ms >= _WINDOW_MS:
                if not self._above_cutoff(w, ms):
                    self.running = False
                w = 0
                ms = 0
        else:
            aw = w if w >= 0 else -w
            # (a coarse calibration, where one LSB outweighs any window at
            # the cut-off, needs no more evidence than one LSB)
            if aw and (aw >= _EVIDENCE_LSB or aw >= self._cutoff_guard) and self._above_cutoff(w, ms):
                self._credit(w)
                self.running = True
                w = 0
                ms = 0
            elif ms >= _WINDOW_MS:
                self.withheld_lsb = count_add(self.withheld_lsb, aw)
                w = 0
                ms = 0
        self._win_lsb = w
        self._win_ms = ms

    def book_lump(self, delta_lsb):
        """Energy the chip counted while the ESP32 was down (warm boot): no
        interval to judge a cut-off by, so it goes straight to the registers."""
        self.tick_import_lsb = 0
        self.tick_export_lsb = 0
        self._credit(delta_lsb)

    def take_import_lsb(self):
        """Import booked since the last take (billing's input, handed on once)."""
        u = self._unbilled_import_lsb
        self._unbilled_import_lsb = 0
        return u

    def stop_window(self):
        """Forget a partial window (chip reset: its start is gone)."""
        self._win_lsb = 0
        self._win_ms = 0

    # --- readings at the edge (floats: display only) ------------------------
    def vrms_v(self):
        return self.vrms_raw * self.cal.v_ref_mv / (self.cal.vrms_lsb_ref * 1000.0)

    def irms_a(self):
        return self.irms_raw * self.cal.i_ref_ma / (self.cal.irms_lsb_ref * 1000.0)

    def power_w(self):
        """Mean active power over the last tick; 0 below the no-load cut-off."""
        if self.last_dt_ms <= 0 or not self.running:
            return 0.0
        num, den = self.cal.lsb_per_kwh()
        return self.last_delta_lsb * den * 3.6e9 / (num * self.last_dt_ms)

    def power_factor(self):
        s = self.vrms_v() * self.irms_a()
        if s <= 0.0:
            return 1.0
        pf = self.power_w() / s
        return max(-1.0, min(1.0, pf))

    def frequency_hz(self):
        if self.period_raw == 0:
            return 0.0
        return self.cal.clkin_hz / (8.0 * self.period_raw)
