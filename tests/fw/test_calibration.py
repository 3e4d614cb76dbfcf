"""The calibration record, and the datasheet's worked example."""
import calibration
from fixtures import design_cal
from fwtest import raises


def test_round_trip_and_crc():
    cal = design_cal(wgain=-37, apos=-120, phcal=15)
    text = cal.to_json()
    back = calibration.from_json(text, "cal.json")
    assert back.as_dict() == cal.as_dict()
    corrupt = text.replace('"wgain": -37', '"wgain": -36')
    e = raises(calibration.CalibrationError, calibration.from_json, corrupt, "cal.json")
    assert "cal.json" in str(e) and "crc32" in str(e)


def test_bad_records_say_what_is_wrong():
    good = design_cal().as_dict()
    bad = dict(good)
    del bad["cfden"]
    e = raises(calibration.CalibrationError, calibration.make, bad)
    assert "cfden" in str(e)
    e = raises(calibration.CalibrationError, calibration.make, dict(good, wgain=4000))
    assert "wgain" in str(e) and "-2048..2047" in str(e)
    e = raises(calibration.CalibrationError, calibration.from_json, "{not json", "x.json")
    assert "x.json" in str(e)
    e = raises(calibration.CalibrationError, calibration.from_json, '{"version": 9}', "x.json")
    assert "version" in str(e)


def test_datasheet_worked_example():
    # 3200 imp/kWh, CF nominal at Ib 958 Hz, 220 V 10 A: CFDEN 489, 6.378e-4 Wh/LSB
    cf_expected = 3.2 * 2200 / 3600
    cfden = int(958 / cf_expected + 0.5) - 1
    assert cfden == 489
    cal = design_cal(cfden=cfden, imp_per_kwh=3200)
    num, den = cal.lsb_per_kwh()
    wh_per_lsb = 1000.0 * den / num
    assert abs(wh_per_lsb - 6.378e-4) < 0.0005e-4
