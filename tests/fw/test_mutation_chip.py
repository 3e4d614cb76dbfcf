"""Boundaries of the calibration record, the ADE7753 source's warm start and
the meter's event records, found untested by mutation (make mutate,
docs/mutation.md). Limits are written out here from calibration.md and the
datasheet (register widths), wrap results worked out by hand."""
import ade7753
import calibration
from fixtures import design_cal, kinds, lsb_total, new_meter, started
from fwtest import raises

# (field, lowest, highest) as the spec gives them, written out independently
LIMITS = (
    ("clkin_hz", 1_000_000, 10_000_000), ("gain", 0, 255), ("ch1os", 0, 255), ("ch2os", 0, 255),
    ("wgain", -2048, 2047), ("apos", -32768, 32767), ("phcal", -32, 31), ("wdiv", 0, 255),
    ("cfnum", 0, 4095), ("cfden", 0, 4095), ("vrmsos", -2048, 2047), ("irmsos", -2048, 2047),
    ("imp_per_kwh", 1, 100_000), ("vrms_lsb_ref", 1, 0xFFFFFF), ("v_ref_mv", 1, 1_000_000),
    ("irms_lsb_ref", 1, 0xFFFFFF), ("i_ref_ma", 1, 1_000_000),
)


def _values(**over):
    v = design_cal().as_dict()
    for k in over:
        v[k] = over[k]
    return v


# --- calibration ---------------------------------------------------------------
def test_every_field_is_accepted_at_its_limits_and_refused_one_past():
    scale = ("calibration: CFDEN/CFNUM/WDIV/meter constant give an energy scale too "
             "fine for 30-bit integers")
    for name, lo, hi in LIMITS:
        for ok in (lo, hi):
            if name in ("wdiv", "cfnum") and ok == hi:
                # in range, but WDIV x (CFNUM + 1) >= 64: refused for the energy scale
                e = raises(calibration.CalibrationError, calibration.make, _values(**{name: ok}))
                assert str(e) == scale, (name, str(e))
                continue
            cal = calibration.make(_values(**{name: ok}))
            assert getattr(cal, name) == ok, (name, ok)
            assert calibration.from_json(cal.to_json()).as_dict() == cal.as_dict()
        for bad in (lo - 1, hi + 1):
            e = raises(calibration.CalibrationError, calibration.make, _values(**{name: bad}))
            assert str(e) == "calibration: field '%s' = %d is outside %d..%d" % (name, bad, lo, hi), str(e)


def test_field_type_missing_and_unknown_messages():
    e = raises(calibration.CalibrationError, calibration.make, _values(gain=True))
    assert str(e) == "calibration: field 'gain' must be an integer"
    e = raises(calibration.CalibrationError, calibration.make, _values(gain=3.0))
    assert str(e) == "calibration: field 'gain' must be an integer"
    v = _values()
    del v["i_ref_ma"]
    e = raises(calibration.CalibrationError, calibration.make, v)
    assert str(e) == "calibration: field 'i_ref_ma' is missing"
    e = raises(calibration.CalibrationError, calibration.make, _values(colour=1))
    assert str(e) == "calibration: unknown field 'colour'"


def test_energy_scale_limit_at_exactly_64():
    # den = WDIV x (CFNUM + 1) must stay below 64 (2**6)
    assert calibration.make(_values(wdiv=1, cfnum=62)).lsb_per_kwh() == (1606 * 1600, 63)
    assert calibration.make(_values(wdiv=9, cfnum=6)).lsb_per_kwh() == (1606 * 1600, 63)
    for wdiv, cfnum in ((1, 63), (2, 31), (64, 0)):
        e = raises(calibration.CalibrationError, calibration.make, _values(wdiv=wdiv, cfnum=cfnum))
        assert str(e) == ("calibration: CFDEN/CFNUM/WDIV/meter constant give an energy scale too "
                          "fine for 30-bit integers"), (wdiv, cfnum)
    assert calibration.make(_values(wdiv=0, cfnum=0)).lsb_per_kwh() == (1606 * 1600, 1)  # WDIV 0 acts as 1
    assert calibration.make(_values(wdiv=1, cfnum=0, cfden=0, imp_per_kwh=1)).lsb_per_kwh() == (1, 1)


def test_stored_record_errors_name_the_file_and_the_reason():
    good = design_cal().to_json()
    for text, why in (("{not json", "cal.json: not valid JSON"),
                      ("[1, 2]", "cal.json: not a JSON object"),
                      ('{"version": 2}', "cal.json: version 2 not supported (this firmware reads 1)"),
                      ('{"gain": 2}', "cal.json: version None not supported (this firmware reads 1)"),
                      (good.replace(', "crc32"', ', "crc33"'), "cal.json: crc32 is missing"),
                      (good.replace('"wgain": 0', '"wgain": 5000'),
                       "cal.json: field 'wgain' = 5000 is outside -2048..2047"),
                      (good.replace('"wgain": 0', '"wgain": 1'),
                       "cal.json: crc32 does not match the contents (corrupt record)")):
        e = raises(calibration.CalibrationError, calibration.from_json, text, "cal.json")
        assert str(e) == why, (text, str(e))
    e = raises(calibration.CalibrationError, calibration.from_json, "{not json")
    assert str(e) == "calibration: not valid JSON"


def test_canonical_text_and_dict_follow_the_spec_order():
    cal = design_cal(wgain=-5, apos=7)
    d = cal.as_dict()
    assert sorted(d) == sorted(["version"] + [n for n, _, _ in LIMITS])
    assert calibration.canonical_text(d) == (
        "version=1;clkin_hz=3579545;gain=3;ch1os=0;ch2os=0;wgain=-5;apos=7;phcal=13;"
        "wdiv=0;cfnum=0;cfden=1605;vrmsos=0;irmsos=0;imp_per_kwh=1600;"
        "vrms_lsb_ref=970000;v_ref_mv=220000;irms_lsb_ref=211000;i_ref_ma=10000")
    assert cal.to_json().startswith('{"version": 1, "clkin_hz": 3579545, "gain": 3, ')


# --- warm start: the stored baseline's difference, modulo 2**24 ----------------------
def _warm(stored, now_raw):
    """A configured chip at AENERGY now_raw, restarted with `stored` as baseline."""
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, now_raw)
    chip2, m2 = new_meter(chip)
    assert m2.start(0, stored) and m2.warm
    return chip2, m2


def test_warm_start_difference_wraps_both_ways():
    # AENERGY reads signed (-2**23 .. 2**23 - 1); the stored baseline is such a
    # reading; the difference is taken modulo 2**24 into the same range.
    for stored, now_raw, imp, exp in ((5, 0xFFFFF0, 0, 21),  # -16 now: 21 back
                                      (-16, 5, 21, 0),  # 21 forward across 0
                                      (0x7FFFF0, 0x800010, 32, 0),  # 32 forward across the wrap
                                      (0, 0x7FFFFF, 0x7FFFFF, 0),  # the largest step forward
                                      (-0x800000, 0, 0, 0x800000),  # +2**23 reads as -2**23
                                      (0, 0x800000, 0, 0x800000),  # -2**23 stays -2**23
                                      (1, 0x800000, 0x7FFFFF, 0)):  # -(2**23 + 1) is +(2**23 - 1)
        chip, m = _warm(stored, now_raw)
        mi = m.metrology
        assert (lsb_total(mi.energy_import), lsb_total(mi.energy_export)) == (imp, exp), (stored, now_raw)
        assert m.events.newest()[2:5] == ("warm_boot", "metrology", imp - exp)


def test_warm_start_without_a_baseline_books_nothing():
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, 1234)
    chip2, m2 = new_meter(chip)
    assert m2.start(0) and m2.warm
    assert m2.source.warm_start(0) == 0  # nothing to book without a stored value
    assert kinds(m2.events) == ["warm_boot_unsaved"] and m2.events.newest()[4] == 0
    assert m2.baseline() == 1234


def test_after_a_warm_start_an_unexplained_aeof_is_a_missed_interval():
    chip, m = _warm(100, 100)
    chip.regs[ade7753.STATUS] |= 0x0080  # AEOF with no wrap in our difference
    assert m.poll(1000)
    assert m.source.aeof_unexplained and m.missed_intervals == 1
    assert m.events.newest()[2:5] == ("missed_interval", "metrology", 1000)


def test_after_a_warm_start_a_wrap_seen_before_its_flag_is_not_a_loss():
    chip, m = _warm(0x7FFFF0, 0x7FFFF0)
    chip.set(ade7753.AENERGY, 0x800010)  # wrapped by 32 LSB; its AEOF comes later
    assert m.poll(1000)
    assert m.source.delta_lsb == 32 and not m.source.aeof_unexplained
    chip.regs[ade7753.STATUS] |= 0x0080  # the late flag: explained by that wrap
    assert m.poll(2000)
    assert not m.source.aeof_unexplained and m.missed_intervals == 0


# --- the meter's event records ---------------------------------------------------------
def test_chip_errors_are_logged_with_the_meters_name():
    chip, m = new_meter()
    chip.absent = True
    assert not m.poll(0)
    e = m.events.newest()
    assert e[2:4] == ("chip_error", "metrology") and e[4].startswith("ADE7753 ")
    assert m.chip_errors == 1
