"""`host_sim faults`: the real firmware cut at random instants on torn littlefs flash.

Expected values are the harness's own books (host_sim/faults.py: the credit of
the tokens it vended and saw confirmed, the cost of the registered energy from
its own price table), or, for SAGLVL, the arithmetic written out here.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os

import pytest

import ade7753_source
import app as fw_app
import machine
import savepolicy as sp
from host_sim import faults
from host_sim.__main__ import main


def test_ci_campaign_nothing_corrupt_lost_or_applied_twice():
    r = faults.run_faults(40, seed=7)
    assert (r.cuts, r.recovered, r.corrupt, r.credit_applied_twice, r.credit_lost) == (40, 40, 0, 0, 0), r.failures
    assert (r.balance_mismatch, r.relay_mismatch, r.freeze_replayed, r.freeze_gap) == (0, 0, 0, 0)
    assert set(r.cuts_by_kind) == set(faults.CUT_KINDS)
    assert r.power_fail_saves > 0  # the SAG warning saved before the hold-up ran out
    assert 0 < r.energy_lost_wh_max <= r.energy_lost_bound_wh
    # the bound: the 0.1 kWh step plus one 0.5 s pass at the load
    assert r.energy_lost_bound_wh == pytest.approx(100 + 5000 * 0.5 / 3600)
    assert r.tokens_confirmed > 20 and r.flash_erases_per_day > 0


@pytest.mark.parametrize("target", faults.TARGETS)
def test_a_cut_at_every_flash_operation_of(target):
    _, ops = faults.cut_inside(target, None)
    assert ops >= 2  # the record and littlefs' metadata at least
    for k in range(1, ops + 1):
        r, _ = faults.cut_inside(target, k)
        assert (r.recovered, r.corrupt) == (1, 0), (k, r.failures)


def test_a_token_not_saved_at_once_is_caught(monkeypatch):
    # negative control: credit applied in RAM, left for the next scheduled save
    def lazy(self, digits):
        result = self.tokens.enter(digits, self.clock.now_ms)
        self.storage.policy.credit()
        return result

    monkeypatch.setattr(fw_app.App, "enter_token", lazy)
    r, _ = faults.cut_inside("token", None)
    assert r.credit_lost == 1 and r.corrupt == 1


def test_a_full_filesystem_keeps_the_wallet(tmp_path):
    c = faults.Campaign(3, tmp_path, sectors=64)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        a = c._start()
        for _ in range(20):
            c._pass()
        c._token()
        assert c.rep.tokens_confirmed == 1
        kept = c.confirmed_e4
        n = 0
        with pytest.raises(OSError) as full:
            while True:  # fill littlefs with 4 KB files until it refuses
                with c.rig.fs.open("junk%d" % n, "wb") as f:
                    f.write(b"\0" * 4096)
                n += 1
        assert full.value.errno == 28 and n > 20
        for _ in range(10):
            c._pass()
        acc = a.prepay.account
        before = acc.balance_e4()
        c._token()  # cannot be stored: refused, nothing applied
        assert c.confirmed_e4 == kept and acc.balance_e4() == before
        assert any(e[2] == "token_not_stored" for e in a.events.entries())
        assert any(e[2] == "storage_error" for e in a.events.entries())
        c.rig.flash.power_off()
        c._power_down()
        c._check()
        a2 = c.app
        acc2 = a2.prepay.account
        assert acc2.cred_units * 10000 + acc2.cred_e4 == kept
        assert c.rep.credit_lost == 0 and c.rep.credit_applied_twice == 0 and c.rep.balance_mismatch == 0
        for i in range(n):
            c.rig.fs.remove("junk%d" % i)
        c._token()  # room again: a new token is stored and credited
        assert c.confirmed_e4 > kept
    finally:
        os.chdir(cwd)
        machine.attach_board(None)


def test_sag_level_from_the_nominal_voltage():
    # 220 V rms -> 311.1 V peak -> / 1001 at the CH2 pin; 0.5 V peak is code 0x2518
    code_nominal = 220 * math.sqrt(2) / 1001 / 0.5 * 0x2518
    assert ade7753_source.sag_level(0) == int(code_nominal * 0.60) >> 7 == 27
    assert ade7753_source.sag_level(1 << 5) == int(2 * code_nominal * 0.60) >> 7  # CH2 PGA 2


def _warned_within(c: faults.Campaign, volts: float, ms: int) -> int | None:
    a = c.app
    for t in range(1, ms + 1):
        c._advance(1, volts=volts)  # below nominal: the full DSP every step (faults.py)
        if a.storage.policy.power_failing():
            return t
    return None


def test_a_supply_cut_raises_the_warning_a_dip_to_80_percent_does_not(tmp_path):
    c = faults.Campaign(1, tmp_path, sectors=64)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        c._start()
        for _ in range(4):
            c._pass()
        assert _warned_within(c, 0.8 * faults.VOLTAGE_V, 200) is None
        t = _warned_within(c, 0.0, 100)
        assert t is not None and 20 <= t <= 40  # SAGCYC 2 half cycles once the crossings stop
        # the loop does not sleep on a pending power-fail save
        assert c.app.storage.policy.power_failing()
        saves = c.app.storage.policy.writes[sp.POWER_FAIL]
        c.app.step()
        assert c.app.storage.policy.writes[sp.POWER_FAIL] == saves + 1
    finally:
        os.chdir(cwd)
        machine.attach_board(None)


def test_power_fail_save_torn_by_a_short_hold_up_keeps_the_previous_record():
    r = faults.run_faults(12, seed=11, holdup_ms=60)  # 60 ms: no room for the save's 80 ms erase
    assert r.cuts_by_kind.get("sag", 0) > 0 and r.power_fail_saves == 0
    assert (r.corrupt, r.credit_lost, r.credit_applied_twice) == (0, 0, 0), r.failures


def test_cli_json_keys_and_bad_input():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        assert main(["faults", "--cuts", "3", "--seed", "2", "--json", "--quiet"]) == 0
    rep = json.loads(out.getvalue())
    for key in ("cuts", "recovered", "corrupt", "credit_applied_twice", "credit_lost", "energy_lost_wh_max",
                "flash_erases_per_day"):
        assert key in rep
    assert rep["cuts"] == 3 and rep["recovered"] == 3
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert main(["faults", "--cuts", "0"]) == 2
    assert "--cuts 0" in err.getvalue()


class _Hw:
    def __init__(self) -> None:
        self.t = 0
        self.slept: list[int] = []

    def ticks_ms(self) -> int:
        return self.t

    def sleep_ms(self, ms: int) -> None:
        self.slept.append(ms)
        self.t += ms

    def feed_watchdog(self) -> None:
        pass


@pytest.mark.parametrize("warned", [False, True])
def test_the_loop_does_not_sleep_on_a_pending_power_fail_save(warned):
    a = fw_app.App.__new__(fw_app.App)  # only run() and what it touches
    a.hw = _Hw()
    policy = sp.SavePolicy(100, 0)
    a.storage = type("S", (), {"policy": policy})()
    steps = []
    a.step = lambda: steps.append(a.hw.t)
    a.console = None  # no technician port in this test
    if warned:
        policy.power_fail()
    a.run(max_passes=2)
    assert steps == ([0, 0] if warned else [0, 500])
    assert a.hw.slept == ([] if warned else [500])
