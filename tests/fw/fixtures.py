"""Shared set-ups for the firmware lane."""
import calibration
from image_chip import ImageChip
from metrology import Metrology

import ade7753


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


def started(cal=None, now_ms=0):
    """(image chip, driver, metrology) after a normal start."""
    chip = ImageChip()
    drv = ade7753.ADE7753(chip, chip, 3579545)
    m = Metrology(drv, cal or design_cal(), 10_000, 220_000)
    m.start(now_ms)
    return chip, drv, m
