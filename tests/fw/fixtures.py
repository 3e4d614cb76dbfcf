"""Shared set-ups for the firmware lane."""
import calibration
from clock import Clock
from events import EventLog
from image_chip import ImageChip
from meter import Meter


def design_cal(**over):
    """A plausible calibration for the default board (1600 imp/kWh, CFDEN 1605)."""
    v = {
        "clkin_hz": 3579545, "gain": 0x03, "ch1os": 0, "ch2os": 0, "wgain": 0,
        "apos": 0, "phcal": 13, "wdiv": 0, "cfnum": 0, "cfden": 1605,
        "vrmsos": 0, "irmsos": 0, "imp_per_kwh": 1600, "vrms_lsb_ref": 970_000,
        "v_ref_mv": 220_000, "irms_lsb_ref": 211_000, "i_ref_ma": 10_000,
    }
    for k in over:
        v[k] = over[k]
    return calibration.make(v)


class ManualClock:
    """ticks_ms for a Clock under a test's control."""

    def __init__(self, ms=0):
        self.ms = ms

    def __call__(self):
        return self.ms


def new_meter(chip=None, cal=None):
    """(image chip, Meter) on its own event log; not started."""
    chip = chip or ImageChip()
    ev = EventLog(Clock(ManualClock()))
    return chip, Meter(chip, chip, cal or design_cal(), 3579545, events=ev)


def started(cal=None, now_ms=0):
    """(image chip, driver, meter) after a normal (cold) start."""
    chip, mt = new_meter(None, cal)
    assert mt.start(now_ms)
    return chip, mt.chip, mt


def lsb_total(reg):
    """An energy register's content in units of 1/num kWh (LSB x den)."""
    return reg.kwh * reg.num + reg.frac


def kinds(events):
    """Event kinds, oldest first."""
    return [e[2] for e in events.entries()]
