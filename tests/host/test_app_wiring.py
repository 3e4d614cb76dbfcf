"""The whole firmware on a simulated board: tariff, account, tokens and the
registers record wired into the loop, across reboots and power cuts.

Expected values come from the test's own arithmetic (Fraction) on the energy
the meter registered, or from the token fields the test itself encoded.
"""
from __future__ import annotations

import datetime
import json
import shutil
from fractions import Fraction

import pytest

import clock as fw_clock
import persist
import storage
from host_sim.device import SimDevice
from host_sim.fakes import machine
from host_sim.frontend import BOARDS_DIR, load_board
from host_sim.loadboard import LoadBoard
from tools import sts as vend

KEY_HEX = "6ff35b9d1f3453e6"
FLAT_E4 = 5000  # 0.5000 per kWh at every hour
TARIFF = {
    "currency": "CNY",
    "rates": {"1": "0.9000", "2": "0.5000", "3": "0.5000", "4": "0.3000"},
    "days": {"all": [["00:00", 2]]},
    "weeks": {"std": ["all"] * 7},
    "seasons": [["01-01", "std"]],
}
START = (2026, 3, 2, 0, 22, 0, 0, 0)  # Monday 22:00


class Rig:
    def __init__(self, tmp, prepay: dict | None, watts: float = 2000.0) -> None:
        shutil.copy(BOARDS_DIR / "ideal.cal.json", tmp / "calibration.json")
        (tmp / "tariff.json").write_text(json.dumps(TARIFF))
        (tmp / "meter.json").write_text(json.dumps({"meter_number": "000000000042"}))
        if prepay is not None:
            (tmp / "prepay.json").write_text(json.dumps(prepay))
        self.tmp = tmp
        self.watts = watts
        self.board = LoadBoard(load_board(BOARDS_DIR / "ideal.json"))
        self.board.rtc.set(START)
        self.dev = SimDevice(self.board, tmp)
        self.dev.advance = self._advance
        self.drawn_wh = 0.0

    def _advance(self, ms: int) -> None:
        self.board.run_load(ms / 1000.0, 220.0, self.watts)
        self.drawn_wh += self.watts * ms / 3_600_000

    def run_s(self, seconds: int):
        return self.dev.run(seconds * 2)  # one pass per 500 ms

    def reboot(self, cause=machine.SOFT_RESET):
        """The ESP32 restarts (the chip keeps counting, the files stay)."""
        self.dev.app = None
        return self.dev.run(1, cause)

    def on(self):
        return self.dev.on_device()


@pytest.fixture
def postpaid(tmp_path):
    yield Rig(tmp_path, None)
    machine.attach_board(None)


@pytest.fixture
def prepaid(tmp_path):
    yield Rig(tmp_path, {"balance": "10.0000", "decoder_key": KEY_HEX, "alarm1": "5.0000",
                         "alarm2": "2.0000", "reconnect": "auto"})
    machine.attach_board(None)


def _token(tid: int, amount_raw: int, subclass: int = 4) -> str:
    """A currency credit token (subclass 4) encoded by the vending tool."""
    block = vend.make_block(0, subclass, 3, tid, amount_raw)
    return vend.token_from_block(0, block, bytes.fromhex(KEY_HEX))


def _cost_e4(t) -> int:
    return t.cost_units * 10000 + t.cost_e4


def _imp_units(app) -> int:
    r = app.metering.meter.metrology.energy_import
    return r.kwh * r.num + r.frac


def test_postpaid_cost_is_the_registered_energy_at_the_price(postpaid):
    app = postpaid.run_s(600)
    t = app.tariff
    num = app.metering.meter.metrology.energy_import.num
    e = Fraction(_imp_units(app), num)  # kWh the meter registered
    assert e > Fraction(3, 10)  # 2 kW for 10 min, less the cut-off start
    # floor of the exact cost: at most one 0.0001 unit below (the carry)
    assert _cost_e4(t) == int(e * FLAT_E4) or _cost_e4(t) == int(e * FLAT_E4) - 1
    assert t.rate == 2 and app.prepay is None and app.tokens is None
    assert app.meter_number == "000000000042"


def test_registers_and_costs_survive_a_reboot_exactly(postpaid):
    app = postpaid.run_s(300)
    with postpaid.on():
        app.save_now()
    before = (_imp_units(app), _cost_e4(app.tariff), app.tariff.rate_cost_e4[2], app.tariff.rate_energy[2].frac)
    app2 = postpaid.reboot()
    after = (_imp_units(app2), _cost_e4(app2.tariff), app2.tariff.rate_cost_e4[2], app2.tariff.rate_energy[2].frac)
    # the warm chip's count since the save is booked on top: never less, at most one pass more
    assert after[0] >= before[0] and after[1] >= before[1]
    kinds = [e[2] for e in app2.events.entries()]
    assert "warm_boot" in kinds


def test_a_daily_freeze_reaches_flash_once(postpaid):
    app = postpaid.run_s(2 * 3600 + 60)  # past midnight (start 22:00)
    with postpaid.on():
        app.save_now()
        recs = app.freeze_store.records("daily")
    day = fw_clock.days_from_civil(2026, 3, 3)
    assert [r[1] for r in recs] == [day * 86400]
    app2 = postpaid.reboot()
    with postpaid.on():
        app2.save_now()
        assert [r[1] for r in app2.freeze_store.records("daily")] == [day * 86400]


def test_an_outage_longer_than_the_ram_staging_keeps_the_newest_daily_freezes(postpaid):
    """20 days off: the 20 late daily freezes are taken at power-up, RAM stages
    16 of them (freeze.STAGING), the 4 oldest are dropped with an event."""
    postpaid.run_s(60)
    postpaid.board.rtc.set((2026, 3, 22, 6, 22, 0, 0, 0))  # the RTC ran on through 20 days off
    app = postpaid.reboot()
    with postpaid.on():
        app.save_now()
        recs = app.freeze_store.records("daily")
    first = fw_clock.days_from_civil(2026, 3, 3)
    midnights = [(first + k) * 86400 for k in range(20)]
    assert [r[1] for r in recs] == midnights[-16:]
    dropped = [e for e in app.events.entries() if e[2] == "freeze_dropped"]
    assert [e[4] for e in dropped] == [4]


def test_token_credit_and_tid_commit_together_and_once(prepaid):
    app = prepaid.run_s(60)
    bal0 = app.prepay.account.balance_e4()
    tid = vend.tid_of(datetime.datetime(2026, 3, 2, 21, 0), 2014)
    amount_raw = vend.amount_raw_exact(2500)  # 25.00 CNY at the 0.01 currency resolution
    tok = _token(tid, amount_raw)
    with prepaid.on():
        assert app.enter_token(tok) == "accepted"
    bal1 = app.prepay.account.balance_e4()
    assert bal1 == bal0 + 250_000
    # on flash already: a reboot right now keeps the credit and knows the TID
    app2 = prepaid.reboot()
    a2 = app2.prepay.account
    assert a2.balance_e4() <= bal1 and a2.balance_e4() >= bal1 - 1000  # at most the energy of one pass
    assert (a2.cred_units * 10000 + a2.cred_e4) == 250_000
    with prepaid.on():
        assert app2.enter_token(tok) == "used"
    assert app2.prepay.account.cred_units * 10000 + app2.prepay.account.cred_e4 == 250_000


def test_money_balance_is_start_plus_credited_minus_deducted(prepaid):
    app = prepaid.run_s(1800)
    a = app.prepay.account
    deducted = a.ded_units * 10000 + a.ded_e4
    assert deducted == _cost_e4(app.tariff)  # currency mode: the account is debited what the tariff billed
    assert a.balance_e4() == 100_000 - deducted


def test_a_corrupt_copy_of_the_registers_falls_back_to_the_other(postpaid):
    app = postpaid.run_s(300)
    with postpaid.on():
        app.save_now()
        app.save_now()
        st = storage.Store(storage.OsFs())
        st.load(persist.RECORD, persist.VERSION)
        newest = "regs." + storage.COPIES[st._newest[persist.RECORD]]
    raw = bytearray((postpaid.tmp / newest).read_bytes())
    raw[20] ^= 0x10  # one flipped bit
    (postpaid.tmp / newest).write_bytes(bytes(raw))
    app2 = postpaid.reboot()
    kinds = [(e[2], e[3]) for e in app2.events.entries()]
    assert ("storage_recovered", "app") in kinds
    assert _imp_units(app2) > 0 and app2.tariff is not None
