"""The storage budget tool: its simulated day agrees with arithmetic done here."""
from tools import storage_budget


def test_a_heavy_day_saves_once_per_tenth_of_a_kwh_and_wears_the_flash_slowly():
    sim = storage_budget.simulate(days=1, kwh_per_day=30.0, sectors=128)
    energy_saves = sim["writes"][3]
    # 30 kWh in 0.1 kWh steps; a step closes at the end of a 10 s slice, so a save
    # covers 100 Wh plus at most one slice at the day's peak hour (10 of 128 shares)
    peak_slice_wh = 30_000 * 10 / 128 / 360
    assert 30_000 / (100 + peak_slice_wh) - 1 <= energy_saves <= 300
    assert sim["writes"][2] == 1  # the day's credit
    assert sim["saves"] == energy_saves + 1  # + the credit (the same "regs" record)
    # a ~500 B record is past littlefs' 128 B inline limit: a fresh block, one erase, per save
    assert sim["saves"] <= sim["erases"] < 1.3 * sim["saves"]
    lifetime_years = 100_000 / sim["max_sector_erases"] / 365  # even with no wear levelling at all
    assert lifetime_years >= 15


def test_cli_refuses_nonsense_and_has_help(run_cli):
    r = run_cli("--days", "0", module="tools.storage_budget")
    assert r.returncode == 2 and "--days 0" in r.stderr
    r = run_cli("--help", module="tools.storage_budget")
    assert r.returncode == 0 and "--kwh-per-day" in r.stdout
