"""Scenario files: strict validation before anything runs ("FILE: KEY: reason")."""
from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import pytest

from host_sim.scenario import (ScenarioError, day_sod, iso, load_scenario, money_text,
                               refuse_unsupported)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "host_sim/scenarios/household_month.toml"

# scenario.md's example, verbatim
SPEC_EXAMPLE = '''
[meter]
start = "2026-01-01T00:00:00"
duration = "365d"
step_s = 60
voltage_v = 220.0
frequency_hz = 50.0
meter_number = "000000000001"

[tariff]
currency = "CNY"
rates = { "1" = "0.9000", "2" = "0.7000", "3" = "0.5000", "4" = "0.3000" }
days.workday = [["00:00", 4], ["08:00", 3], ["18:00", 1], ["22:00", 4]]
weeks.std = ["workday","workday","workday","workday","workday","workday","workday"]
seasons = [["01-01", "std"]]
steps = { period = "year", settle = "01-01 00:00", thresholds_kwh = ["2760", "4800"], surcharges = ["0.0000", "0.0500", "0.3000"] }

[prepay]
mode = "currency"
balance = "100.0000"
alarm1 = "20.0000"
alarm2 = "5.0000"
emergency_limit = "10.0000"
emergency = "auto"
reconnect_threshold = "2.0000"
reconnect = "button"
friendly_hours = ["18:00-08:00"]
friendly_weekends = false
friendly_special_days = true
max_balance = "99999.0000"
decoder_key = "6ff35b9d1f3453e6"
sts_base_date = 2014

[load]
daily = [["00:00", 150.0], ["07:00", 900.0], ["09:00", 300.0], ["18:00", 1500.0], ["23:00", 150.0]]
pf = 1.0

[[event]]
at = "2026-01-10T12:00:00"
token = "23716100501183194197"
[[event]]
at = "2026-01-11T08:00:00"
button_s = 3
[[event]]
at = "2026-01-12T03:00:00"
power_cut_s = 7200
[[event]]
at = "2026-01-13T00:00:00"
clock_set = "2026-01-13T00:05:00"
'''


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "s.toml"
    p.write_text(text)
    return p


def secs(text: str) -> int:
    return int((dt.datetime.fromisoformat(text) - dt.datetime(2000, 1, 1)).total_seconds())


def test_spec_example_parses_into_dataclasses(tmp_path):
    s = load_scenario(write(tmp_path, SPEC_EXAMPLE))
    assert s.meter.start_s == secs("2026-01-01T00:00:00") and s.meter.duration_s == 365 * 86400
    assert s.meter.end_s == secs("2027-01-01T00:00:00")
    assert s.tariff.prices_e4[1:] == [9000, 7000, 5000, 3000]
    assert s.tariff.thresholds_wh == [2_760_000, 4_800_000]
    p = s.prepay
    assert p is not None and p.balance_e4 == 1_000_000 and p.alarm2_e4 == 50_000
    assert p.friendly_hours == ((18 * 3600, 8 * 3600),) and p.decoder_key == bytes.fromhex("6ff35b9d1f3453e6")
    assert [e.kind for e in s.events] == ["token", "button_s", "power_cut_s", "clock_set"]
    assert s.events[3].value == secs("2026-01-13T00:05:00")
    assert s.load.load_at(secs("2026-03-05T08:59:59")) == (900.0, 1.0)
    assert s.load.next_change(secs("2026-03-05T08:00:00")) == secs("2026-03-05T09:00:00")
    assert s.load.next_change(secs("2026-03-05T23:30:00")) == secs("2026-03-06T00:00:00")


def test_bundled_demo_scenario_is_valid():
    s = load_scenario(DEMO)
    assert s.postpaid and s.meter.duration_s == 31 * 86400
    assert s.load.load_at(secs("2026-01-05T19:00:00")) == (1500.0, 0.9)


def test_segments_profile_and_daily_wrap(tmp_path):
    text = SPEC_EXAMPLE.replace(
        'daily = [["00:00", 150.0], ["07:00", 900.0], ["09:00", 300.0], ["18:00", 1500.0], ["23:00", 150.0]]',
        'segments = [["2026-01-01T00:00:00", 300.0], ["2026-02-01T00:00:00", 0.0, 0.5]]')
    s = load_scenario(write(tmp_path, text))
    assert s.load.load_at(secs("2026-01-31T23:59:59")) == (300.0, 1.0)
    assert s.load.load_at(secs("2026-02-01T00:00:00")) == (0.0, 0.5)
    assert s.load.next_change(secs("2026-01-15T00:00:00")) == secs("2026-02-01T00:00:00")
    assert s.load.next_change(secs("2026-02-15T00:00:00")) is None
    wrap = SPEC_EXAMPLE.replace('["00:00", 150.0], ', "")  # before 07:00 the day's last point (23:00) applies
    s = load_scenario(write(tmp_path, wrap))
    assert s.load.load_at(secs("2026-01-02T03:00:00")) == (150.0, 1.0)


BAD = [
    ('duration = "365d"', 'duration = "1y"', "meter.duration: '1y' is not a duration"),
    ('start = "2026-01-01T00:00:00"', 'start = "2026-02-30T00:00:00"', "meter.start: time '2026-02-30T00:00:00' is not"),
    ('start = "2026-01-01T00:00:00"', 'start = "2026-01-01 00:00"', "meter.start: time '2026-01-01 00:00' is not"),
    ("step_s = 60", "step_s = 0", "meter.step_s: 0 outside 1..3600"),
    ("step_s = 60", "step_s = 60\ncolour = 1", "meter.colour: unknown key"),
    ('balance = "100.0000"', 'balance = "100.00001"', "prepay.balance: 100.00001 has more than 4 decimals"),
    ('alarm1 = "20.0000"', "alarm1 = 20.0", "prepay.alarm1: must be a decimal string"),
    ('alarm2 = "5.0000"', 'alarm2 = "-5"', "prepay.alarm2: -5 is negative"),
    ('emergency = "auto"', 'emergency = "always"', "prepay.emergency: must be one of auto, button"),
    ('friendly_hours = ["18:00-08:00"]', 'friendly_hours = ["18:00-25:00"]', "prepay.friendly_hours[0]: time of day 25:00 does not exist"),
    ('decoder_key = "6ff35b9d1f3453e6"', 'decoder_key = "6ff35b9d"', "prepay.decoder_key: must be 16 hex digits"),
    ('days.workday = [["00:00", 4], ["08:00", 3]', 'days.workday = [["00:00", 4], ["08:00", 5]',
     "tariff.days.workday[1]: rate 5 outside 1..4"),
    ('"4" = "0.3000" }', '"4" = "0.30001" }', "tariff.rates.4: price 0.30001 has more than 4 decimals"),
    ('seasons = [["01-01", "std"]]', 'seasons = [["01-01", "summer"]]', 'tariff.seasons[0]: unknown week name "summer"'),
    ("pf = 1.0", "pf = 1.5", "load.pf: 1.5 outside -1..1"),
    ('["07:00", 900.0], ["09:00", 300.0]', '["09:00", 900.0], ["07:00", 300.0]', "load.daily[2]: times must increase"),
    ("[load]", "[load]\nsegments = []", "load: give exactly one of daily or segments"),
    ('at = "2026-01-10T12:00:00"', 'at = "2028-01-10T12:00:00"', "event[0].at: 2028-01-10T12:00:00 is outside the run"),
    ('token = "23716100501183194197"', 'token = "2371610050118319419"', "event[0].token: a token is a string of 20 digits"),
    ("button_s = 3", "button_s = 3\npower_cut_s = 5", "event[1]: needs exactly one of"),
    ("power_cut_s = 7200", "power_cut_s = -1", "event[2].power_cut_s: -1 outside"),
    ("[meter]", "[meters]\n[meter]", "meters: unknown key"),
    # the meter's further [prepay] settings: checked by the firmware's own validator, its message
    ("sts_base_date = 2014", "sts_base_date = 2014\npower_limit_w = -5", "prepay.power_limit_w: -5 is outside 0..100000"),
    ("sts_base_date = 2014", "sts_base_date = 2014\nrelay_colour = 1", "prepay.relay_colour: unknown key"),
]


@pytest.mark.parametrize("old, new, message", BAD, ids=[m.split(":")[0] for _, _, m in BAD])
def test_invalid_scenarios_name_the_file_key_and_reason(tmp_path, old, new, message):
    assert old in SPEC_EXAMPLE
    p = write(tmp_path, SPEC_EXAMPLE.replace(old, new, 1))
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    assert str(e.value).startswith(f"{p}: {message}")


def test_missing_section_and_broken_toml(tmp_path):
    p = write(tmp_path, SPEC_EXAMPLE.split("[load]")[0])
    with pytest.raises(ScenarioError, match=r"s\.toml: load: section missing"):
        load_scenario(p)
    p = write(tmp_path, "[meter\n")
    with pytest.raises(ScenarioError, match=r"s\.toml: not valid TOML"):
        load_scenario(p)


def test_unsupported_events_are_refused_not_ignored(tmp_path):
    s = load_scenario(write(tmp_path, SPEC_EXAMPLE))
    with pytest.raises(ScenarioError, match=r"event\[0\]\.token: not supported by this runner yet"):
        refuse_unsupported(s, ("clock_set",))
    refuse_unsupported(s, ("token", "button_s", "power_cut_s", "clock_set"))


def test_time_helpers():
    t = secs("2026-03-01T08:00:05")
    assert day_sod(t) == ((dt.date(2026, 3, 1) - dt.date(2000, 1, 1)).days, 8 * 3600 + 5)
    assert iso(t) == "2026-03-01T08:00:05"
    assert money_text(123456) == "12.3456" and money_text(-5) == "-0.0005"


def test_cli_exit_status(tmp_path, run_cli):
    ok = run_cli("host_sim/scenarios/household_month.toml", module="host_sim.scenario")
    assert ok.returncode == 0 and "44640 passes" in ok.stdout
    bad = write(tmp_path, SPEC_EXAMPLE.replace('"0.9000"', '"0,9"'))
    r = run_cli(str(bad), module="host_sim.scenario")
    assert r.returncode == 2 and f"{bad}: tariff.rates.1: price \"0,9\" is not a decimal number" in r.stderr
    assert sys.executable  # the fixture runs the environment's interpreter


def test_the_meters_further_prepay_settings_reach_its_config(tmp_path):
    text = SPEC_EXAMPLE.replace("sts_base_date = 2014", 'sts_base_date = 2014\npower_limit_w = 3000\nquiet_hours = ["22:00-07:00"]')
    s = load_scenario(write(tmp_path, text))
    assert s.prepay_obj is not None
    assert s.prepay_obj["power_limit_w"] == 3000 and s.prepay_obj["quiet_hours"] == ["22:00-07:00"]
    assert s.prepay_obj["balance"] == "100.0000"  # the table as written: the meter's prepay.json
    assert load_scenario(DEMO).prepay_obj is None
