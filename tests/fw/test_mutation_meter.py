"""Meter and metrology records found untested by mutation (make mutate,
docs/mutation.md): exact event records, a rejected step's magnitude, the
clock-mismatch error, and the running window's stop at exactly 10 000 ms."""
import meter
import metrology
from calibration import CalibrationError
from fixtures import design_cal, new_meter, started
from fwtest import raises
from image_chip import ImageChip


def test_a_calibration_for_another_crystal_is_refused():
    chip = ImageChip()
    e = raises(CalibrationError, meter.Meter, chip, chip, design_cal(), 4_000_000)
    assert str(e) == "calibration: made for a 3579545 Hz ADE7753 clock, this board has 4000000 Hz"


def test_start_and_poll_records():
    chip, drv, m = started()
    assert m.events.newest()[2:5] == ("cold_chip", "metrology", 0)
    assert (m.chip_errors, m.chip_resets, m.missed_intervals, m.rejected_lsb) == (0, 0, 0, 0)
    # the chip's fastest count, both ADCs clipped at the largest WGAIN, is under
    # 170 LSB/ms (ade7753.md; tests/host/test_chip_errors.py measures the model)
    chip.add_energy(-(170 * 500 + 17))  # more than 500 ms can hold, backwards
    m.tick(500)
    assert m.events.newest()[2:5] == ("implausible_delta", "metrology", -(170 * 500 + 17))
    chip.add_energy(170 * 500 + 20)
    m.tick(1000)
    assert m.rejected_lsb == 85017 + 85020  # magnitudes add up
    chip.reset()
    m.tick(1500)
    assert m.events.newest()[2:5] == ("chip_reset", "metrology", "status_reset")
    assert (m.chip_resets, m.missed_intervals) == (1, 1)
    chip2, m2 = new_meter(chip)
    assert m2.start(2000) and m2.warm  # configured again by the reset above
    assert m2.events.newest()[2:5] == ("warm_boot_unsaved", "metrology", 0)


def test_a_running_meter_stops_at_exactly_10_s_below_the_cutoff():
    m = metrology.Metrology(design_cal(), 10_000, 220_000)
    m.book(100, 500)
    assert m.running
    m.book(0, 9999)
    assert m.running
    m.book(0, 1)  # the window is 10 000 ms with nothing in it
    assert not m.running


def test_withheld_windows_add_up():
    m = metrology.Metrology(design_cal(), 10_000, 220_000)
    m.book(5, 10_000)
    m.book(-3, 10_000)
    assert m.withheld_lsb == 8 and not m.running
