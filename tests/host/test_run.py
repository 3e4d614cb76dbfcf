"""`python -m host_sim run`: scenarios through the real firmware, CI-sized (days).

Expected figures come from the test's own arithmetic: the load profile and the
tariff written out here and evaluated minute by minute with `decimal`, never
from the firmware or the runner. The meter's registers may differ from that
by its accuracy (the default board, calibrated: well under 0.01 %), so the
comparisons allow 0.1 %.
"""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal as D
from pathlib import Path

import pytest

from host_sim.__main__ import main as cli
from host_sim.run import run_scenario
from host_sim.scenario import load_scenario
from tools import sts as vend

KEY_HEX = "6ff35b9d1f3453e6"
TARIFF = """
[tariff]
currency = "CNY"
rates = { "1" = "0.9000", "2" = "0.7000", "3" = "0.5000", "4" = "0.3000" }
days.workday = [["00:00", 4], ["08:00", 3], ["10:00", 2], ["15:00", 3], ["18:00", 1], ["21:00", 3], ["23:00", 4]]
days.restday = [["00:00", 4], ["08:00", 3], ["23:00", 4]]
weeks.std = ["workday", "workday", "workday", "workday", "workday", "restday", "restday"]
seasons = [["01-01", "std"]]
steps = { period = "year", settle = "01-01 00:00", thresholds_kwh = ["30"], surcharges = ["0.0000", "0.1000"] }
"""
FLAT = """
[tariff]
currency = "CNY"
rates = { "1" = "0.5000", "2" = "0.5000", "3" = "0.5000", "4" = "0.5000" }
days.all = [["00:00", 3]]
weeks.std = ["all", "all", "all", "all", "all", "all", "all"]
seasons = [["01-01", "std"]]
"""
# the same calendar, written out independently: (minute of day it starts, rate)
WORKDAY = [(0, 4), (480, 3), (600, 2), (900, 3), (1080, 1), (1260, 3), (1380, 4)]
RESTDAY = [(0, 4), (480, 3), (1380, 4)]
PRICE = {1: D("0.9"), 2: D("0.7"), 3: D("0.5"), 4: D("0.3")}
THRESHOLD_KWH, SURCHARGE = D(30), (D(0), D("0.1"))
LOAD = [(0, 500), (450, 1500), (540, 800), (1065, 2500), (1335, 400)]  # (minute of day, W)


def _write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def _expected(start: dt.datetime, minutes: int) -> tuple[dict[int, D], dict[int, D], dict[int, D]]:
    """Per-rate kWh, per-rate cost and per-tier cost of LOAD under TARIFF, minute by minute."""
    energy = {r: D(0) for r in range(1, 5)}
    cost = {r: D(0) for r in range(1, 5)}
    tier_cost = {1: D(0), 2: D(0)}
    used = D(0)
    for k in range(minutes):
        t = start + dt.timedelta(minutes=k)
        mod = t.hour * 60 + t.minute
        prof = WORKDAY if t.weekday() < 5 else RESTDAY
        rate = [r for m, r in prof if m <= mod][-1]
        watts = [w for m, w in LOAD if m <= mod][-1]
        e = D(watts) / D(60_000)
        parts = []
        if used < THRESHOLD_KWH < used + e:  # split at the threshold
            parts = [(THRESHOLD_KWH - used, 1), (used + e - THRESHOLD_KWH, 2)]
        else:
            parts = [(e, 1 if used + e <= THRESHOLD_KWH else 2)]
        for part, tier in parts:
            c = part * (PRICE[rate] + SURCHARGE[tier - 1])
            cost[rate] += c
            tier_cost[tier] += c
        energy[rate] += e
        used += e
    return energy, cost, tier_cost


def _close(got: float | D, want: D, rel: D = D("0.001")) -> bool:
    return abs(D(str(got)) - want) <= rel * abs(want)


def test_postpaid_days_match_an_independent_bill(tmp_path):
    """Fri..Sun (workday and rest-day profiles), a tier crossed on the second day."""
    load = ", ".join(f'["{m // 60:02d}:{m % 60:02d}", {float(w)}]' for m, w in LOAD)
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-06T00:00:00"
duration = "3d"
{TARIFF}
[load]
daily = [{load}]
""")
    rep = run_scenario(load_scenario(p)).report
    energy, cost, tiers = _expected(dt.datetime(2026, 3, 6), 3 * 1440)
    for r in range(1, 5):
        assert _close(rep["energy_wh"]["rates"][str(r)] / 1000, energy[r]), (r, rep["energy_wh"], energy)
        assert _close(D(rep["cost"]["rates"][str(r)]), cost[r]), (r, rep["cost"], cost)
    assert _close(D(rep["cost"]["total"]), sum(cost.values()))
    for k in (1, 2):
        assert _close(D(rep["cost"]["tiers"][str(k)]), tiers[k]), (k, rep["cost"]["tiers"], tiers)
    assert tiers[2] > 0  # the test really crosses the threshold
    # postpaid: the money block is the bill; the registers add up exactly
    assert rep["money"]["deducted"] == rep["cost"]["total"]
    assert sum(D(v) for v in rep["cost"]["rates"].values()) == D(rep["cost"]["total"])
    assert sum(D(v) for v in rep["cost"]["tiers"].values()) == D(rep["cost"]["total"])
    assert _close(rep["energy_wh"]["import"] / 1000, sum(energy.values()))
    assert rep["true_energy_wh"] == pytest.approx(float(sum(energy.values())) * 1000, rel=1e-9)
    assert [f["at"] for f in rep["freezes"] if f["kind"] == "daily"] == [
        "2026-03-07T00:00:00", "2026-03-08T00:00:00", "2026-03-09T00:00:00"]
    assert rep["faults"] == 0 and rep["relay"] == [] and rep["tokens"] == []
    for key in ("start", "end", "energy_wh", "true_energy_wh", "money", "cost", "relay", "alarms", "tokens",
                "freezes", "events", "wall_s"):
        assert key in rep


def _token(when: dt.datetime, units_e2: int) -> str:
    """A currency credit token (subclass 4, 0.01 resolution) from the vending tool."""
    block = vend.make_block(0, 4, 3, vend.tid_of(when, 2014), vend.amount_raw_exact(units_e2))
    return vend.token_from_block(0, block, bytes.fromhex(KEY_HEX))


def _e4(text: str) -> int:
    return int(D(text) * 10000)


def test_prepaid_runs_out_the_relay_cuts_the_load_and_a_token_and_the_button_restore_it(tmp_path):
    # 1 kW at 0.5/kWh: 1.0000 of credit lasts 2 h; no emergency credit, no friendly hours
    tok = _token(dt.datetime(2026, 3, 2, 2, 0), 500)  # 5.00
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "6h"
{FLAT}
[prepay]
balance = "1.0000"
alarm1 = "0.5000"
alarm2 = "0.2000"
emergency_limit = "0.0000"
reconnect = "button"
decoder_key = "{KEY_HEX}"
[load]
daily = [["00:00", 1000.0]]
[[event]]
at = "2026-03-02T03:00:00"
token = "{tok}"
[[event]]
at = "2026-03-02T03:01:00"
button_s = 3
""")
    rep = run_scenario(load_scenario(p)).report
    m = rep["money"]
    assert _e4(m["balance"]) == _e4(m["start"]) + _e4(m["credited"]) - _e4(m["deducted"])
    assert m["deducted"] == rep["cost"]["total"]  # currency mode: debited what the tariff billed
    assert [t["result"] for t in rep["tokens"]] == ["accepted"] and rep["tokens"][0]["credit"] == "5.0000"
    assert [a["state"] for a in rep["alarms"]] == ["normal", "alarm1", "alarm2", "exhausted", "normal"]
    opened = [r for r in rep["relay"] if r["state"] == "open"]
    assert len(opened) == 1 and opened[0]["reason"] == "credit_exhausted"
    # 1.0000 at 0.5/kWh is 2 kWh: exhausted at 02:00 (+ the meter's error), opened on that pass
    at = dt.datetime.fromisoformat(opened[0]["at"])
    assert dt.datetime(2026, 3, 2, 1, 58) <= at <= dt.datetime(2026, 3, 2, 2, 2)
    closed = rep["relay"][-1]
    assert closed["state"] == "closed" and closed["reason"] == "button"
    assert closed["at"].startswith("2026-03-02T03:01:0")
    # the load drew nothing while the relay was open (about 02:00 .. 03:01)
    off_h = (dt.datetime.fromisoformat(closed["at"]) - at).total_seconds() / 3600
    assert rep["true_energy_wh"] == pytest.approx(1000.0 * (6 - off_h), abs=20.0)
    assert rep["energy_wh"]["import"] == pytest.approx(rep["true_energy_wh"], rel=1e-3)
    assert rep["faults"] == 0


def test_a_power_cut_loses_no_credit_and_bills_no_energy_while_off(tmp_path):
    tok = _token(dt.datetime(2026, 3, 2, 0, 30), 1000)  # 10.00
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "8h"
{FLAT}
[prepay]
balance = "20.0000"
decoder_key = "{KEY_HEX}"
[load]
daily = [["00:00", 2000.0]]
[[event]]
at = "2026-03-02T01:00:00"
token = "{tok}"
[[event]]
at = "2026-03-02T01:00:30"
power_cut_s = 7200
""")
    rep = run_scenario(load_scenario(p)).report
    m = rep["money"]
    assert m["credited"] == "10.0000"  # the credit survived the reboot, once
    assert _e4(m["balance"]) == _e4(m["start"]) + _e4(m["credited"]) - _e4(m["deducted"])
    boots = [e for e in rep["events"] if e["kind"] == "boot"]
    assert [b["detail"] for b in boots] == ["power_on", "power_on"]
    assert any(e["kind"] == "power_down" for e in rep["events"])
    # 2 kW for 8 h less the 2 h cut: 12 kWh drawn, and the meter registered that, not 16
    assert rep["true_energy_wh"] == pytest.approx(12_000.0, abs=0.01)
    assert rep["energy_wh"]["import"] == pytest.approx(12_000.0, rel=1e-3)
    assert _close(D(m["deducted"]), D("6.0"))  # 12 kWh at 0.5
    assert rep["faults"] == 0


def test_an_invalid_scenario_is_refused_with_file_key_and_reason(tmp_path, capsys):
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "1d"
colour = "blue"
{FLAT}
[load]
daily = [["00:00", 100.0]]
""", "bad.toml")
    assert cli(["run", str(p), "--json"]) == 2
    err = capsys.readouterr()
    assert err.out == ""
    assert f"{p}: meter.colour: unknown key" in err.err


def test_an_event_the_meter_cannot_perform_is_refused_before_running(tmp_path, capsys):
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "1d"
{FLAT}
[load]
daily = [["00:00", 100.0]]
[[event]]
at = "2026-03-02T01:00:00"
token = "12345678901234567890"
""", "postpaid_token.toml")
    assert cli(["run", str(p)]) == 2
    err = capsys.readouterr().err
    assert f"{p}: event[0].token: cannot be performed: a postpaid meter (no [prepay]) has no token gateway" in err


def test_cli_json_and_report(tmp_path, capsys):
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "1d"
{FLAT}
[load]
daily = [["00:00", 300.0], ["18:00", 1200.0]]
[[event]]
at = "2026-03-02T12:00:00"
clock_set = "2026-03-02T12:10:00"
""")
    out = tmp_path / "rep"
    assert cli(["run", str(p), "--json", "--report", str(out)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["money"]["deducted"] == rep["cost"]["total"]
    assert any(e["kind"] == "clock_set" for e in rep["events"])
    assert {f.name for f in out.iterdir()} == {"report.json", "bill.md", "plots.png"}
    assert "| **total** |" in (out / "bill.md").read_text()


def test_credit_running_out_in_friendly_hours_opens_the_relay_when_they_end(tmp_path):
    # 1 kW at 0.5/kWh from 20:00: 1.0000 lasts until 22:00, inside 21:00-07:00, so the
    # relay waits for 07:00; meanwhile the load runs on emergency debt (the balance goes negative)
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T20:00:00"
duration = "12h"
{FLAT}
[prepay]
balance = "1.0000"
alarm1 = "0.5000"
alarm2 = "0.2000"
emergency_limit = "0.0000"
friendly_hours = ["21:00-07:00"]
[load]
daily = [["00:00", 1000.0]]
""")
    rep = run_scenario(load_scenario(p)).report
    opened = [r for r in rep["relay"] if r["state"] == "open"]
    assert [(r["at"], r["reason"]) for r in opened] == [("2026-03-03T07:00:00", "credit_exhausted")]  # on its pass
    exhausted = [a["at"] for a in rep["alarms"] if a["state"] == "exhausted"]
    assert len(exhausted) == 1 and "2026-03-02T21:58:00" <= exhausted[0] <= "2026-03-02T22:02:00"
    m = rep["money"]
    assert _e4(m["balance"]) == _e4(m["start"]) + _e4(m["credited"]) - _e4(m["deducted"])
    assert _close(D(m["deducted"]), D("5.5"))  # 11 h at 1 kW x 0.5, all billed, no credit or not
    assert _e4(m["balance"]) < 0
    assert rep["true_energy_wh"] == pytest.approx(11_000.0, abs=20.0)  # nothing after 07:00


def test_a_step_longer_than_the_energy_register_allows_is_refused(tmp_path, capsys):
    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "1d"
step_s = 600
{FLAT}
[load]
daily = [["00:00", 100.0]]
""")
    assert cli(["run", str(p)]) == 2
    assert f"{p}: meter.step_s: 600 s is above 180 s" in capsys.readouterr().err


def test_the_bundled_prepaid_demo_runs_out_tops_up_and_reconnects(tmp_path):
    """The first 9 days of host_sim/scenarios/prepaid_month.toml (make sim runs all 31)."""
    demo = Path(__file__).resolve().parents[2] / "host_sim/scenarios/prepaid_month.toml"
    text = demo.read_text().replace('duration = "31d"', 'duration = "9d"')
    text = text[:text.index('[[event]]\nat = "2026-01-12')]  # the events of the first 9 days
    rep = run_scenario(load_scenario(_write(tmp_path, text, "prepaid_9d.toml"))).report
    assert [(r["state"], r["reason"]) for r in rep["relay"]] == [
        ("closed", "power_up_restore"), ("open", "credit_exhausted"), ("closed", "button")]
    assert [t["result"] for t in rep["tokens"]] == ["accepted"]
    states = [a["state"] for a in rep["alarms"]]
    assert states == ["normal", "alarm1", "alarm2", "emergency", "exhausted", "normal"]
    m = rep["money"]
    assert _e4(m["balance"]) == _e4(m["start"]) + _e4(m["credited"]) - _e4(m["deducted"])


def test_power_cuts_bill_the_same_energy_less_what_they_switched_off(tmp_path):
    """issue 10's check: the same day with and without two cuts (one in the
    1.5 kW morning block, one across the 0.8 -> 2.5 kW change); the difference
    in registered energy is the load the cuts switched off, computed here from
    LOAD minute by minute."""
    def scenario(cuts: str) -> str:
        return f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "24h"
{TARIFF}
[load]
daily = {json.dumps([[f"{m // 60:02d}:{m % 60:02d}", float(w)] for m, w in LOAD])}
{cuts}
"""
    cuts = [("2026-03-02T07:40:00", 1800), ("2026-03-02T17:30:00", 3600)]
    events = "".join(f'[[event]]\nat = "{at}"\npower_cut_s = {s}\n' for at, s in cuts)
    whole = run_scenario(load_scenario(_write(tmp_path, scenario(""), "a.toml"))).report
    cut = run_scenario(load_scenario(_write(tmp_path, scenario(events), "b.toml"))).report
    off_wh = D(0)
    for at, s in cuts:
        t0 = dt.datetime.fromisoformat(at)
        for k in range(s // 60):
            t = t0 + dt.timedelta(minutes=k)
            mod = t.hour * 60 + t.minute
            off_wh += D([w for m, w in LOAD if m <= mod][-1]) / 60
    off_wh = off_wh.quantize(D("0.001"))
    assert off_wh == D(1500) / 2 + D(800) / 4 + D(2500) * 3 / 4  # the profile read by hand
    want = D(str(whole["energy_wh"]["import"])) - off_wh
    assert _close(cut["energy_wh"]["import"], want, D("0.0005"))
    assert D(str(whole["true_energy_wh"])) - D(str(cut["true_energy_wh"])) == pytest.approx(off_wh, abs=D("0.01"))
    assert cut["faults"] == 0 and len([e for e in cut["events"] if e["kind"] == "boot"]) == 3


def test_power_cuts_reboot_from_the_littlefs_flash_model_with_the_same_result(tmp_path):
    """A scenario that cuts power keeps the firmware's records on littlefs over the
    NOR-flash model and each boot mounts it again; the report is the same as with
    the records as plain files (the same storage code over another filesystem)."""
    from host_sim.run import Runner

    p = _write(tmp_path, f"""
[meter]
start = "2026-03-02T00:00:00"
duration = "6h"
{FLAT}
[load]
daily = [["00:00", 1500.0]]
[[event]]
at = "2026-03-02T02:00:00"
power_cut_s = 1800
""")
    s = load_scenario(p)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    on_flash = Runner(s, tmp_path / "a", flash=True)
    rep_flash = on_flash.run().report
    rep_files = Runner(s, tmp_path / "b", flash=False).run().report
    assert on_flash.dev.flash is not None and on_flash.dev.flash.reboots == 2  # power-up, after the cut
    assert not (tmp_path / "a" / "regs.a").exists() and (tmp_path / "b" / "regs.a").exists()
    assert rep_flash["energy_wh"] == rep_files["energy_wh"] and rep_flash["money"] == rep_files["money"]
    assert rep_flash["energy_wh"]["import"] == pytest.approx(1500.0 * 5.5, rel=1e-3)
