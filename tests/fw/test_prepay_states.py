"""Balance states, emergency credit and its repayment, the hoarding limit,
wrong-mode credit. Expected balances are written out from the test's own
arithmetic: start - ticks x cost per tick (+ credits)."""
from fwtest import raises
from prepay_rig import Rig

CFG = {"balance": "25.0000", "alarm1": "20.0000", "alarm2": "5.0000",
       "emergency_limit": "10.0000", "emergency": "auto", "max_balance": "100.0000"}


def ticks_until_state(rig, state, limit=2000):
    n = 0
    while rig.account.state != state:
        rig.tick()
        n += 1
        assert n < limit, "never reached %s" % state
    return n


def test_normal_to_alarm1_at_exactly_alarm1():
    rig = Rig(CFG)
    rig.cost_e4_per_tick = 1000  # 0.1 per 500 ms
    rig.watts = 100
    assert rig.account.state == "normal"
    # 25.0000 - 49 x 0.1 = 20.1000 > alarm1; the 50th tick makes it 20.0000 <= alarm1
    assert ticks_until_state(rig, "alarm1") == 50
    assert rig.balance_e4() == 200000
    assert rig.logged("balance_state") == ["alarm1"]


def test_alarm1_to_alarm2_to_emergency_to_exhausted():
    rig = Rig(CFG)
    rig.watts = 100
    rig.cost_e4_per_tick = 1000
    ticks_until_state(rig, "alarm1")
    assert ticks_until_state(rig, "alarm2") == 150  # 20.0 -> 5.0
    assert rig.balance_e4() == 50000
    assert ticks_until_state(rig, "emergency") == 50  # 5.0 -> 0.0: R <= 0, auto emergency
    assert rig.balance_e4() == 0 and rig.account.emergency_active
    assert rig.logged("emergency_credit") == ["auto"]
    assert rig.relay.closed
    assert ticks_until_state(rig, "exhausted") == 100  # 0.0 -> -10.0 = -limit
    assert rig.balance_e4() == -100000
    assert rig.logged("balance_state") == ["alarm1", "alarm2", "emergency", "exhausted"]
    assert not rig.relay.closed and rig.relay.reason == "credit_exhausted"
    assert rig.account.debt_text() == "10.0000"


def test_without_emergency_credit_zero_balance_is_exhausted():
    c = dict(CFG)
    c["emergency_limit"] = "0.0000"
    c["balance"] = "0.2000"
    rig = Rig(c)
    rig.watts = 100
    rig.cost_e4_per_tick = 1000
    assert ticks_until_state(rig, "exhausted") == 2
    assert rig.balance_e4() == 0 and not rig.relay.closed


def test_emergency_by_button_is_offered_at_zero_and_taken_by_a_press():
    c = dict(CFG)
    c["emergency"] = "button"
    c["balance"] = "0.3000"
    rig = Rig(c)
    rig.watts = 100
    rig.cost_e4_per_tick = 1000
    ticks_until_state(rig, "exhausted")
    assert not rig.relay.closed and rig.account.emergency_offered()
    rig.press()
    assert rig.account.state == "emergency"
    assert rig.logged("emergency_credit") == ["button"]
    assert rig.relay.closed and rig.relay.reason == "button"


def test_top_up_repays_emergency_debt_first():
    rig = Rig(CFG)
    rig.watts = 100
    rig.cost_e4_per_tick = 1000
    ticks_until_state(rig, "emergency")
    rig.run(3)  # 6 more ticks: -0.6000
    assert rig.balance_e4() == -6000
    assert rig.account.debt_text() == "0.6000"
    rig.account.apply_credit("currency", 10000, 7)  # 1.0000: 0.6 repays the debt
    assert rig.balance_e4() == 4000
    assert rig.account.debt_text() == "0.0000"
    assert not rig.account.emergency_active and rig.account.state == "alarm2"
    assert rig.logged("emergency_repaid") == [0]


def test_hoarding_limit_rejects_the_whole_top_up():
    rig = Rig(CFG)  # 25.0000, max 100.0000
    a = rig.account
    assert a.can_credit("currency", 750000) is None  # exactly to 100.0000: allowed
    assert a.can_credit("currency", 750001) == "overflow"
    before = a.registers()
    raises(ValueError, a.apply_credit, "currency", 750001, 1)
    assert a.registers() == before  # nothing credited, nothing counted
    a.apply_credit("currency", 750000, 1)
    assert rig.balance_e4() == 1000000 and a.purchases == 1


def test_wrong_mode_credit_is_function_not_supported():
    rig = Rig(CFG)
    assert rig.account.can_credit("energy", 1000) == "function_not_supported"
    e = Rig({"mode": "energy", "balance": "5.0000"})
    assert e.account.can_credit("currency", 1000) == "function_not_supported"
    assert e.account.can_credit("energy", 1000) is None


def test_energy_mode_deducts_exact_energy_and_credits_wh():
    rig = Rig({"mode": "energy", "balance": "1.0000", "alarm1": "0.5000", "alarm2": "0.2000"})
    # 1 LSB = 1 W.s = 1/3600 Wh; 0.0001 kWh = 0.1 Wh = 360 LSB. 1000 W: 500 LSB a tick.
    rig.run(36, 1000)  # 72 ticks x 500 LSB = 36000 LSB = 10 Wh = 100 units of 0.0001 kWh
    assert rig.balance_e4() == 10000 - 100
    rig.run(1, 1)  # 2 ticks x 0 LSB (1 W // 2 = 0)
    rig.meter.tick_import_lsb = 0
    rig.svc.bill(359, 0)  # just below one unit: carried, not lost
    assert rig.balance_e4() == 9900
    rig.svc.bill(1, 0)
    assert rig.balance_e4() == 9899
    rig.account.apply_credit("energy", 1234, 5)  # 1234 Wh = 12340 units
    assert rig.balance_e4() == 9899 + 12340
