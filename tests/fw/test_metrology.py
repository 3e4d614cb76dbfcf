"""Metrology: modular deltas, exact ledger, overflow and reset handling."""
import ade7753
import metrology
from fixtures import design_cal, started
from fwtest import IS_MICROPYTHON, Rng, skip
from image_chip import ImageChip
from ticks import ticks_add


def test_wraparound_delta_registers_exactly():
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, 0x7FFFF0)  # just below +2**23 ...
    m.tick(150_000)  # ... after 150 s, when any step is plausible
    base = m.energy_import.micro_wh()
    chip.add_energy(100)  # wraps to negative register values
    m.tick(150_500)
    num, den = m.cal.lsb_per_kwh()
    gained = m.energy_import.kwh * num + m.energy_import.frac
    assert gained * 1 == (0x7FFFF0 + 100) * den
    assert m.energy_import.micro_wh() > base
    assert m.missed_intervals == 0  # AEOF came with a wrap we saw: nothing lost


def test_any_polling_schedule_gives_the_same_total():
    for seed in range(20):
        rng = Rng(seed)
        chip, drv, m = started()
        total = 0
        now = 0
        for _ in range(200):
            dt = 1 + rng.below(20_000)  # polls from 1 ms to 20 s apart
            rate = 100 + rng.below(5000)  # LSB/s, above the no-load cut-off
            lsb = rate * dt // 1000 + 1
            chip.add_energy(lsb)
            total += lsb
            now = ticks_add(now, dt)
            m.tick(now)
        num, den = m.cal.lsb_per_kwh()
        reg = m.energy_import
        assert reg.kwh * num + reg.frac == total * den, seed
        assert m.missed_intervals == 0


def test_import_never_decreases_and_export_is_separate():
    rng = Rng(7)
    chip, drv, m = started()
    last = 0
    now = 0
    exported = 0
    for _ in range(300):
        lsb = rng.below(4000) - 1500  # both directions
        chip.add_energy(lsb)
        if lsb < 0:
            exported += -lsb
        now += 1000
        m.tick(now)
        v = m.energy_import.micro_wh()
        assert v >= last
        last = v
    num, den = m.cal.lsb_per_kwh()
    reg = m.energy_export
    assert reg.kwh * num + reg.frac == exported * den


def test_ledger_is_exact_and_rolls_over():
    reg = metrology.EnergyRegister(2569600, 1)
    for _ in range(2569600 // 1600):
        reg.add_lsb(1600)
    assert (reg.kwh, reg.frac) == (1, 0)
    assert reg.kwh_text() == "1.000"
    reg.restore(999_999, 2569600 - 1)
    reg.add_lsb(1)
    assert (reg.kwh, reg.frac) == (0, 0)


def test_hot_path_integers_stay_small():
    # Worst case per tick: AENERGY moves 2**23 - 1 (the overflow budget).
    cal = design_cal()
    num, den = cal.lsb_per_kwh()
    assert num + ((1 << 23) - 1) * den < (1 << 30)
    m = started(cal)[2]
    assert 0 < m._cutoff_ms_per_lsb * 0x10000 < (1 << 30)


def test_no_load_cutoff_below_starting_current():
    chip, drv, m = started()
    num, den = m.cal.lsb_per_kwh()
    # 0.004 Ib at Un = 8.8 W: LSB per 500 ms tick
    start_lsb = 8.8 * num / den / 3.6e6 * 0.5
    now = 0
    for _ in range(100):
        chip.add_energy(int(start_lsb + 0.5))
        now += 500
        m.tick(now)
    assert m.withheld_lsb == 0
    assert m.energy_import.frac > 0
    # a 1 W creep is withheld
    creep_lsb = 1.0 * num / den / 3.6e6 * 10  # per 10 s tick
    before = m.energy_import.frac
    for _ in range(10):
        chip.add_energy(int(creep_lsb + 0.5))
        now += 10_000
        m.tick(now)
    assert m.energy_import.frac == before
    assert m.withheld_lsb > 0


def test_missed_overflow_is_reported():
    chip, drv, m = started()
    chip.add_energy(1000)
    chip.regs[0x0B] |= 0x0080  # AEOF, but our difference shows no wrap
    m.tick(1000)
    assert m.missed_intervals == 1
    assert m.events[-1][1] == "missed_interval"
    m.tick(300_000)  # a poll slower than the overflow budget
    assert m.missed_intervals == 2


def test_chip_reset_mid_run_reinitialises():
    chip, drv, m = started()
    chip.add_energy(5000)
    m.tick(500)
    kept = m.energy_import.micro_wh()
    chip.reset()  # brown-out of the chip alone: registers back to defaults
    m.tick(1000)
    assert m.chip_resets == 1
    assert chip.regs[ade7753.MODE] == metrology.METER_MODE
    assert chip.regs[ade7753.CFDEN] == 1605
    assert m.energy_import.micro_wh() == kept
    chip.add_energy(5000)
    m.tick(1500)
    assert m.energy_import.micro_wh() > kept
    # a reset whose STATUS flag was missed is caught by the MODE check
    chip.reset()
    chip.regs[0x0B] = 0
    m.tick(2000)
    assert m.chip_resets == 2 and m.events[-1][2] == "mode_lost"


def test_readings_at_the_edge():
    chip, drv, m = started()
    chip.set(ade7753.VRMS, 970_000)
    chip.set(ade7753.IRMS, 105_500)
    chip.set(ade7753.PERIOD, 8959)
    num, den = m.cal.lsb_per_kwh()
    lsb = int(1100 * num / den / 3.6e6 + 0.5)  # 1100 W for 1 s
    chip.add_energy(lsb)
    m.tick(1000)
    assert abs(m.vrms_v() - 220.0) < 1e-9
    assert abs(m.irms_a() - 5.0) < 1e-9
    assert abs(m.power_w() - 1100) < 1.0
    assert abs(m.power_factor() - 1.0) < 0.001
    assert abs(m.frequency_hz() - 49.943) < 0.001


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
    finally:
        micropython.heap_unlock()
    assert m.missed_intervals == 0


def test_meter_survives_an_absent_chip_and_starts_when_it_answers():
    import meter
    from image_chip import ImageChip

    chip = ImageChip()
    chip.absent = True
    m = meter.Meter(chip, chip, design_cal(), 3579545)
    assert m.start(0) is False
    for k in range(1, 50):
        assert m.tick(k * 500) is False
    assert m.chip_errors == 50
    assert len(m.events) == 32 and m.events_dropped == 18  # bounded in RAM
    assert m.events[-1][1] == "chip_error" and "ADE7753" in m.events[-1][2]
    chip.absent = False
    chip.reset()
    assert m.tick(25_000) is True and m.started
    chip.add_energy(2000)
    assert m.tick(25_500) is True
    assert m.metrology.energy_import.frac > 0


def test_dead_bus_reading_zeros_registers_nothing():
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, 0x400000)  # a meter that has been counting
    m.tick(150_000)
    before = (m.energy_import.micro_wh(), m.energy_export.micro_wh())
    chip.absent = True
    chip.float_byte = 0x00  # MISO stuck low: every read is 0 and passes CHKSUM
    for k in range(1, 6):
        try:
            m.tick(150_000 + k * 500)
        except ade7753.ADE7753Error:
            pass  # recovery cannot configure a dead chip; Meter logs it
    assert (m.energy_import.micro_wh(), m.energy_export.micro_wh()) == before
    assert m.chip_resets == 1  # the MODE check saw it once; then it keeps re-trying the baseline
    chip.absent = False  # the chip answers again, registers intact
    m.tick(155_000)  # new baseline
    chip.add_energy(300)
    m.tick(155_500)
    num, den = m.cal.lsb_per_kwh()
    reg = m.energy_import
    assert reg.kwh * num + reg.frac == (0x400000 + 300) * den


def test_implausible_step_is_rejected_not_billed():
    chip, drv, m = started()
    chip.add_energy(2_000_000)  # 2e6 LSB in 0.5 s: far beyond clipped full scale
    m.tick(500)
    assert m.energy_import.micro_wh() == 0 and m.energy_export.micro_wh() == 0
    assert m.rejected_lsb == 2_000_000 and m.events[-1][1] == "implausible_delta"
    chip.add_energy(700)
    m.tick(1000)
    num, den = m.cal.lsb_per_kwh()
    assert m.energy_import.kwh * num + m.energy_import.frac == 700 * den


def test_failed_display_read_does_not_lose_the_tick_energy():
    import meter

    chip = ImageChip()
    mt = meter.Meter(chip, chip, design_cal(), 3579545)
    mt.start(0)
    chip.add_energy(5000)
    chip.corrupt_addr = ade7753.VRMS  # every VRMS read fails its CHKSUM
    assert mt.tick(500) is False and mt.events[-1][1] == "chip_error"
    chip.corrupt_addr = -1
    chip.add_energy(1000)
    assert mt.tick(1000) is True
    num, den = mt.metrology.cal.lsb_per_kwh()
    reg = mt.metrology.energy_import
    assert reg.kwh * num + reg.frac == 6000 * den


def test_aeof_arriving_one_tick_after_the_wrap_is_not_a_loss():
    chip, drv, m = started()
    chip.set(ade7753.AENERGY, 0x7FFFF0)
    m.tick(150_000)
    chip.add_energy(100)  # wraps and flags AEOF ...
    chip.regs[0x0B] &= ~0x0080  # ... but the flag lands after our status read
    m.tick(150_500)
    chip.regs[0x0B] |= 0x0080  # and shows up in the next one
    chip.add_energy(100)
    m.tick(151_000)
    assert m.missed_intervals == 0
