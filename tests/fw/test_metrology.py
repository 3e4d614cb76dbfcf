"""Metering: modular deltas, exact ledger, cut-off window, overflow and reset
handling, warm boot. Expected values are computed here from the chip's LSB
counts and the calibration's own definition (LSB/kWh = (CFDEN+1) imp/kWh /
(WDIV (CFNUM+1))), never read back from the code under test."""
import ade7753
import metrology
from fixtures import design_cal, kinds, lsb_total, new_meter, started
from fwtest import IS_MICROPYTHON, Rng, raises, skip
from image_chip import ImageChip
from ticks import ticks_add

CFDEN = 1605
IMP = 1600
NUM = (CFDEN + 1) * IMP  # LSB per kWh of design_cal(), written out independently


def _lsb_per_s(watts, num=NUM, den=1):
    return watts * num / den / 3_600_000.0


def test_wraparound_delta_registers_exactly():
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, 0x7FFFF0)  # just below +2**23 ...
    m.tick(150_000)  # ... after 150 s, when any step is plausible
    chip.add_energy(100)  # wraps to negative register values
    m.tick(150_500)
    assert lsb_total(m.metrology.energy_import) == 0x7FFFF0 + 100
    assert m.missed_intervals == 0  # AEOF came with a wrap we saw: nothing lost


def _schedule_total(cal, den, seed):
    rng = Rng(seed)
    chip, drv, m = started(cal)
    total = 0
    now = 0
    for _ in range(200):
        dt = 1 + rng.below(20_000)  # polls from 1 ms to 20 s apart
        rate = 100 + rng.below(5000)  # LSB/s, far above the no-load cut-off
        lsb = rate * dt // 1000 + 1
        chip.add_energy(lsb)
        total += lsb
        now = ticks_add(now, dt)
        m.tick(now)
    assert lsb_total(m.metrology.energy_import) == total * den, seed
    assert m.missed_intervals == 0
    return m


def test_any_polling_schedule_gives_the_same_total():
    for seed in range(12):
        _schedule_total(design_cal(), 1, seed)


def test_wdiv_and_cfnum_scale_the_ledger():
    # WDIV 3, CFNUM 1: one LSB is 6 times the energy; den = 6
    for seed in range(4):
        m = _schedule_total(design_cal(wdiv=3, cfnum=1), 6, seed)
        assert m.metrology.energy_import.den == 6


def test_import_never_decreases_and_export_is_separate():
    rng = Rng(7)
    chip, drv, m = started()
    last = 0
    now = 0
    exported = 0
    imported = 0
    for _ in range(300):
        lsb = rng.below(4000) - 1500  # both directions, far above the cut-off
        chip.add_energy(lsb)
        if lsb < 0:
            exported += -lsb
        else:
            imported += lsb
        now += 1000
        m.tick(now)
        v = m.metrology.energy_import.micro_wh()
        assert v >= last
        last = v
    # every |step| >= 16 LSB in 1 s except the rare small ones: count them out
    assert lsb_total(m.metrology.energy_export) + lsb_total(m.metrology.energy_import) \
        + m.metrology.withheld_lsb >= exported + imported - 32


def test_ledger_is_exact_and_rolls_over():
    reg = metrology.EnergyRegister(2569600, 1)
    for _ in range(2569600 // 1600):
        reg.add_lsb(1600)
    assert (reg.kwh, reg.frac) == (1, 0)
    assert reg.kwh_text() == "1.000"
    reg.restore(999_999, 2569600 - 1)
    reg.add_lsb(1)
    assert (reg.kwh, reg.frac) == (0, 0)


def test_kwh_text_truncates_the_remainder():
    num = 2569600
    reg = metrology.EnergyRegister(num, 1)
    reg.restore(12, num // 2)
    assert reg.kwh_text() == "12.500"
    reg.restore(12, num - 1)  # 0.99999961 kWh: never rounds up to 13.000
    assert reg.kwh_text() == "12.999"
    reg.restore(0, num * 5 // 1000)  # 5 Wh exactly (num is a multiple of 200)
    assert reg.kwh_text() == "0.005"
    reg.restore(0, num * 5 // 1000 - 1)  # a hair under 5 Wh
    assert reg.kwh_text() == "0.004"


def test_restore_rejects_out_of_range_and_keeps_the_register():
    reg = metrology.EnergyRegister(1000, 1)
    reg.restore(999_999, 999)  # the largest value is accepted
    for kwh, frac in ((1_000_000, 0), (-1, 0), (0, 1000), (0, -1)):
        e = raises(ValueError, reg.restore, kwh, frac)
        assert "out of range" in str(e)
        assert (reg.kwh, reg.frac) == (999_999, 999)


def test_hot_path_integers_stay_small():
    # Worst case per tick: AENERGY moves 2**23 - 1 (the overflow budget).
    assert NUM + ((1 << 23) - 1) * 63 < (1 << 30)  # largest den the calibration allows
    m = started()[2]
    assert 0 < m.metrology.cutoff_ms_per_lsb * 0x10000 < (1 << 30)


def _steady_load(fraction_of_ib, seconds, tick_ms=500):
    """A load at fraction_of_ib x Ib at Un, PF 1, for `seconds` of 500 ms
    ticks, with the chip's energy counted exactly (fractions carried): returns
    (LSB the chip counted, LSB the meter registered)."""
    chip, drv, m = started()
    lsb_per_ms = _lsb_per_s(220.0 * 10.0 * fraction_of_ib) / 1000.0
    counted = 0
    carry = 0.0
    now = 0
    for _ in range(seconds * 1000 // tick_ms):
        carry += lsb_per_ms * tick_ms
        whole = int(carry)
        carry -= whole
        chip.add_energy(whole)
        counted += whole
        now += tick_ms
        m.tick(now)
    return counted, lsb_total(m.metrology.energy_import), m


def test_cutoff_band_nothing_below_the_cutoff():
    # 0.0018 Ib: 10 % under the 0.002 Ib cut-off. Per 500 ms tick that is
    # 1.4 LSB, so per-tick rounding would let some ticks through.
    counted, registered, m = _steady_load(0.0018, 60)
    assert counted > 150  # the chip did count it
    assert registered == 0
    assert m.metrology.tick_import_lsb == 0 and m.metrology.take_import_lsb() == 0
    assert m.metrology.power_w() == 0.0


def test_cutoff_band_all_of_it_at_the_starting_current():
    counted, registered, m = _steady_load(0.004, 60)  # class 1 starting current
    assert registered == counted
    assert m.metrology.withheld_lsb == 0
    # and just above the cut-off (10 %) too
    counted, registered, m = _steady_load(0.0022, 60)
    assert registered == counted


def test_booked_energy_is_handed_to_billing_once():
    chip, drv, m = started()
    mt = m.metrology
    chip.add_energy(5)  # below the evidence threshold: gathered, not booked
    m.tick(500)
    assert mt.tick_import_lsb == 0 and mt.take_import_lsb() == 0
    chip.add_energy(700)
    m.tick(1000)
    assert mt.tick_import_lsb == 705  # the gathered window goes with it
    chip.add_energy(300)
    m.tick(1500)
    assert mt.tick_import_lsb == 300
    assert mt.take_import_lsb() == 1005
    assert mt.take_import_lsb() == 0
    assert lsb_total(mt.energy_import) == 1005


def test_missed_overflow_is_reported():
    chip, drv, m = started()
    chip.add_energy(1000)
    chip.regs[ade7753.STATUS] |= ade7753.ST_AEOF  # AEOF, but our difference shows no wrap
    m.tick(1000)
    assert m.missed_intervals == 1
    assert m.events.newest()[2] == "missed_interval"


def test_overflow_budget_boundary():
    chip, drv, m = started()
    m.tick(200_000)  # exactly the budget: fine
    assert m.missed_intervals == 0
    m.tick(400_001)  # one ms more than the budget
    assert m.missed_intervals == 1 and m.events.newest()[4] == 200_001


def test_plausibility_limit_boundary():
    # at most 170 LSB per ms (+16): the largest plausible step is booked ...
    chip, drv, m = started()
    chip.add_energy(170 * 500 + 16)
    m.tick(500)
    assert lsb_total(m.metrology.energy_import) == 170 * 500 + 16
    # ... one more LSB is a corrupted read, never energy
    chip.add_energy(170 * 500 + 17)
    m.tick(1000)
    assert lsb_total(m.metrology.energy_import) == 170 * 500 + 16
    assert m.rejected_lsb == 170 * 500 + 17
    # after 49.345 s any step < 2**23 is possible
    chip.add_energy((1 << 23) - 1)
    m.tick(50_345)
    assert lsb_total(m.metrology.energy_import) == 170 * 500 + 16 + (1 << 23) - 1


def test_chip_reset_mid_run_reinitialises():
    chip, drv, m = started()
    chip.add_energy(5000)
    m.tick(500)
    kept = m.metrology.energy_import.micro_wh()
    chip.reset()  # brown-out of the chip alone: registers back to defaults
    m.tick(1000)
    assert m.chip_resets == 1
    assert chip.regs[ade7753.MODE] == 0x1800
    assert chip.regs[ade7753.CFDEN] == CFDEN
    assert m.metrology.energy_import.micro_wh() == kept
    chip.add_energy(5000)
    m.tick(1500)
    assert m.metrology.energy_import.micro_wh() > kept
    # a reset whose STATUS flag was missed is caught by the MODE check
    chip.reset()
    chip.regs[ade7753.STATUS] = 0
    m.tick(2000)
    assert m.chip_resets == 2 and m.events.newest()[4] == "mode_lost"


def test_readings_at_the_edge():
    chip, drv, m = started()
    chip.set(ade7753.VRMS, 970_000)
    chip.set(ade7753.IRMS, 105_500)
    chip.set(ade7753.PERIOD, 8959)
    lsb = int(_lsb_per_s(1100) + 0.5)  # 1100 W for 1 s
    chip.add_energy(lsb)
    m.tick(1000)
    mt = m.metrology
    assert abs(mt.vrms_v() - 220.0) < 1e-9
    assert abs(mt.irms_a() - 5.0) < 1e-9
    assert abs(mt.power_w() - 1100) < 1.0
    assert abs(mt.power_factor() - 1.0) < 0.001
    assert abs(mt.frequency_hz() - 3579545 / 8 / 8959) < 1e-6


def test_steady_tick_allocates_nothing():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    chip, drv, m = started()
    now = 0
    for _ in range(3):  # warm up: first ticks may create attributes
        chip.add_energy(700)
        now += 500
        m.tick(now)
    micropython.heap_lock()
    try:
        for _ in range(50):
            chip.add_energy(700)
            now += 500
            m.tick(now)
            m.metrology.take_import_lsb()
        for _ in range(80):  # below the cut-off: metering stops, windows are withheld
            chip.add_energy(1)
            now += 500
            m.tick(now)
    finally:
        micropython.heap_unlock()
    assert m.missed_intervals == 0 and m.metrology.withheld_lsb > 0


def test_meter_survives_an_absent_chip_and_starts_when_it_answers():
    chip = ImageChip()
    chip.absent = True
    chip, m = new_meter(chip)
    assert m.start(0) is False
    for k in range(1, 50):
        assert m.tick(k * 500) is False
    assert m.chip_errors == 50
    e = m.events.newest()
    assert e[2] == "chip_error" and "ADE7753" in e[4]
    assert e[5] == 50  # one entry, counted: the ring is not flooded
    chip.absent = False
    chip.reset()
    assert m.tick(25_000) is True and m.started
    chip.add_energy(2000)
    assert m.tick(25_500) is True
    assert lsb_total(m.metrology.energy_import) == 2000


def test_dead_bus_reading_zeros_registers_nothing():
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, 0x400000)  # a meter that has been counting
    m.tick(150_000)
    before = (m.metrology.energy_import.micro_wh(), m.metrology.energy_export.micro_wh())
    chip.absent = True
    chip.float_byte = 0x00  # MISO stuck low: every read is 0 and passes CHKSUM
    for k in range(1, 6):
        m.tick(150_000 + k * 500)
    assert (m.metrology.energy_import.micro_wh(), m.metrology.energy_export.micro_wh()) == before
    assert m.chip_resets == 1  # the MODE check saw it once; then the baseline is retried
    assert m.chip_errors == 5  # each later pass retries the baseline and fails
    chip.absent = False  # the chip answers again, registers intact
    m.tick(155_000)  # new baseline
    chip.add_energy(300)
    m.tick(155_500)
    assert lsb_total(m.metrology.energy_import) == 0x400000 + 300


def test_implausible_step_is_rejected_not_billed():
    chip, drv, m = started()
    chip.add_energy(2_000_000)  # 2e6 LSB in 0.5 s: far beyond clipped full scale
    m.tick(500)
    assert m.metrology.energy_import.micro_wh() == 0 and m.metrology.energy_export.micro_wh() == 0
    assert m.rejected_lsb == 2_000_000 and m.events.newest()[2] == "implausible_delta"
    chip.add_energy(700)
    m.tick(1000)
    assert lsb_total(m.metrology.energy_import) == 700


def test_failed_display_read_does_not_lose_the_tick_energy():
    chip, drv, m = started()
    chip.add_energy(5000)
    chip.corrupt_addr = ade7753.VRMS  # every VRMS read fails its CHKSUM
    assert m.tick(500) is False and m.events.newest()[2] == "chip_error"
    chip.corrupt_addr = -1
    chip.add_energy(1000)
    assert m.tick(1000) is True
    assert lsb_total(m.metrology.energy_import) == 6000


def test_aeof_arriving_one_tick_after_the_wrap_is_not_a_loss():
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, 0x7FFFF0)
    m.tick(150_000)
    chip.add_energy(100)  # wraps and flags AEOF ...
    chip.regs[ade7753.STATUS] &= ~ade7753.ST_AEOF  # ... but the flag lands after our status read
    m.tick(150_500)
    chip.regs[ade7753.STATUS] |= ade7753.ST_AEOF  # and shows up in the next one
    chip.add_energy(100)
    m.tick(151_000)
    assert m.missed_intervals == 0


def test_status_flags_survive_a_noisy_byte():
    # A pending SAG and AEOF with one corrupted byte in the status read: the
    # old RSTSTATUS retry returned 0 and lost them.
    for noisy in (1, 2, 3, 4):  # the corruption lands on each transfer in turn
        chip, drv, m = started()
        chip.regs[ade7753.STATUS] |= ade7753.ST_SAG | ade7753.ST_AEOF
        chip.corrupt_reads = noisy
        flags = drv.read_status_and_clear()
        assert flags & ade7753.ST_SAG and flags & ade7753.ST_AEOF, noisy
        assert chip.regs[ade7753.STATUS] == 0  # and they are cleared


def test_a_flag_raised_between_status_and_clear_is_kept():
    chip, drv, m = started()
    real = chip._byte_in

    def byte_in(b):  # SAG arrives just as the RSTSTATUS command goes out
        if chip._addr < 0 and b & 0x3F == ade7753.RSTSTATUS:
            chip.regs[ade7753.STATUS] |= ade7753.ST_SAG
        real(b)

    chip._byte_in = byte_in
    assert drv.read_status_and_clear() & ade7753.ST_SAG


def test_dierev_zero_is_not_a_chip():
    chip, drv, m = started()
    chip.set(ade7753.MODE, ade7753.MODE_DEFAULT)
    chip.set(ade7753.DIEREV, 0)
    e = raises(ade7753.ADE7753Error, drv.identify)
    assert "DIEREV" in str(e)


# --- warm boot -----------------------------------------------------------
def test_warm_chip_keeps_what_it_counted_with_the_stored_baseline():
    chip, drv, m = started()
    chip.add_energy(4000)
    m.tick(500)
    stored = m.baseline()
    registers = lsb_total(m.metrology.energy_import)
    chip.add_energy(2500)  # counted while the ESP32 restarts
    chip2, m2 = new_meter(chip)
    m2.metrology.energy_import.restore(m.metrology.energy_import.kwh, m.metrology.energy_import.frac)
    assert m2.start(0, stored)
    assert m2.warm and "warm_boot" in kinds(m2.events)
    assert lsb_total(m2.metrology.energy_import) == registers + 2500
    chip.add_energy(300)
    m2.tick(500)
    assert lsb_total(m2.metrology.energy_import) == registers + 2800


def test_warm_chip_without_a_stored_baseline_says_what_is_lost():
    chip, drv, m = started()
    chip.add_energy(4000)
    m.tick(500)
    chip2, m2 = new_meter(chip)
    assert m2.start(0)
    assert m2.warm and kinds(m2.events) == ["warm_boot_unsaved"]
    assert lsb_total(m2.metrology.energy_import) == 0
    assert chip.regs[ade7753.AENERGY] == 4000  # the chip was not reset


def test_cold_or_foreign_chip_is_configured_from_scratch():
    # a chip that reset, or holds another calibration, is not trusted
    for spoil in ("reset", "calibration", "mode"):
        chip, drv, m = started()
        chip.add_energy(4000)
        m.tick(500)
        if spoil == "reset":
            chip.reset()
        elif spoil == "calibration":
            chip.set(ade7753.WGAIN, 7)
        else:
            chip.set(ade7753.MODE, 0x000C)
        chip2, m2 = new_meter(chip)
        assert m2.start(0, m.baseline())
        assert not m2.warm and kinds(m2.events) == ["cold_chip"], spoil
        assert lsb_total(m2.metrology.energy_import) == 0
        assert chip.regs[ade7753.WGAIN] == 0 and chip.regs[ade7753.MODE] == 0x1800


def test_snapshot_round_trip_and_rejections():
    from clock import Clock
    from fixtures import ManualClock

    chip, drv, m = started()
    chip.add_energy(123_456)
    m.tick(140_000)
    c = Clock(ManualClock())
    c.set(9500, 3600)
    text = m.snapshot_text(c)
    chip2, m2 = new_meter(chip)
    assert m2.restore_snapshot(text, c) == m.baseline()
    assert lsb_total(m2.metrology.energy_import) == 123_456
    c.set(9500, 3600 + 720)  # 12 min later: still trusted
    assert m2.restore_snapshot(text, c) == m.baseline()
    c.set(9500, 3600 + 721)  # older: a whole AENERGY revolution may hide in it
    assert m2.restore_snapshot(text, c) is None
    bad = text.replace(" 123456", " 123457") if " 123456" in text else text[:-3] + "0\n"
    chip3, m3 = new_meter(chip)
    for t in (bad, "M2 1 2 3", "M1 x 1 2 3 4 5 6 7 8", ""):
        raises(ValueError, m3.restore_snapshot, t, c)
        assert lsb_total(m3.metrology.energy_import) == 0
