"""The relay policy: the friendly edge rule both ways, reconnect by button and
automatically, the safe-break wait, restore at power-up, feedback mismatch."""
from prepay_rig import Rig

H = 3600
BASE = {"balance": "0.5000", "alarm1": "0.4000", "alarm2": "0.2000", "emergency_limit": "0.0000",
        "reconnect_threshold": "2.0000", "max_balance": "100.0000"}


def cfg(**over):
    c = dict(BASE)
    for k in over:
        c[k] = over[k]
    return c


def test_credit_out_inside_friendly_hours_opens_exactly_when_they_end():
    rig = Rig(cfg(friendly_hours=["12:05-12:10"]), sod=12 * H + 4 * 60 + 30)
    rig.watts = 100
    rig.cost_e4_per_tick = 50  # 0.5000 lasts 100 ticks = 50 s: it runs out at 12:05:20
    rig.run(90)  # to 12:06:00, inside the friendly period
    assert rig.account.state == "exhausted" and rig.relay.closed
    assert rig.balance_e4() < 0  # consumption goes on and becomes debt
    ok = rig.run_until(lambda: not rig.relay.closed, 10 * 60)
    assert ok and rig.clock.sod == 12 * H + 10 * 60  # 12:10:00, not a pass earlier
    assert rig.relay.reason == "credit_exhausted"
    assert rig.logged("disconnect_imminent") == [0]  # a minute ahead, once
    imminent_at = rig.events.find("disconnect_imminent")[1]
    assert imminent_at == 12 * H + 9 * 60


def test_credit_out_just_before_friendly_hours_opens_at_once():
    rig = Rig(cfg(friendly_hours=["12:05-12:10"]), sod=12 * H + 4 * 60)  # 12:04
    rig.watts = 100
    rig.cost_e4_per_tick = 1000  # 0.5000 lasts 5 ticks
    rig.run(3)
    assert not rig.relay.closed and rig.clock.sod == 12 * H + 4 * 60 + 3
    opened_at = rig.events.find("relay_open")[1]
    assert opened_at == 12 * H + 4 * 60 + 2  # the 5th tick (2.5 s) is in second 2
    rig.run(2 * 60)  # the friendly period starts at 12:05 while the relay is open
    assert rig.svc.protected and not rig.relay.closed


def test_friendly_hours_wrap_midnight_and_weekends():
    rig = Rig(cfg(friendly_hours=["18:00-08:00"], friendly_weekends=True))
    p = rig.svc.periods.at
    d = rig.clock.day  # a Monday
    assert p(d, 18 * H) and p(d, 23 * H + 3599) and p(d, 0) and p(d, 8 * H - 1)
    assert not p(d, 8 * H) and not p(d, 18 * H - 1)
    assert p(d + 5, 12 * H) and p(d + 6, 12 * H) and not p(d + 7, 12 * H)  # Sat, Sun, Mon


def test_special_days_from_the_tariff_list():
    rig = Rig(cfg(friendly_special_days=True), special_days=[["01-06", "restday"], "2026-01-08"])
    d = rig.clock.day  # 2026-01-05
    p = rig.svc.periods.at
    assert not p(d, 12 * H) and p(d + 1, 12 * H) and not p(d + 2, 12 * H) and p(d + 3, 12 * H)
    assert p(d + 366, 12 * H)  # 01-06 recurs: 2027-01-06


def run_out(rig):
    rig.watts = 100
    rig.cost_e4_per_tick = 1000
    assert rig.run_until(lambda: not rig.relay.closed, 60)


def test_reconnect_by_a_3_second_hold_only_above_the_threshold():
    rig = Rig(cfg())
    run_out(rig)
    rig.account.apply_credit("currency", 20000, 1)  # balance -> about 1.5: below 2.0000
    rig.hold_button(4)
    assert not rig.relay.closed
    rig.account.apply_credit("currency", 10000, 2)  # about 2.5 > 2.0000
    rig.hold_button(2)  # 2 s: not a hold
    assert not rig.relay.closed
    rig.button_pin.v = 0
    ok = rig.run_until(lambda: rig.relay.closed, 5)
    rig.button_pin.v = 1
    assert ok and rig.relay.reason == "button"
    assert rig.logged("relay_closed") == ["button"]


def test_reconnect_automatically_when_configured():
    rig = Rig(cfg(reconnect="auto"))
    run_out(rig)
    rig.cost_e4_per_tick = 0
    b = rig.balance_e4()
    rig.account.apply_credit("currency", 20000 - b, 1)  # exactly 2.0000: not above
    rig.run(2)
    assert rig.balance_e4() == 20000 and not rig.relay.closed
    rig.account.apply_credit("currency", 1, 2)
    rig.tick()
    assert rig.relay.closed and rig.relay.reason == "credit_restored"


def test_never_breaks_above_the_safe_break_current_then_opens_when_it_drops():
    rig = Rig(cfg(safe_break_a="30.0000", safe_break_timeout_s=600))
    rig.meter.set_current_ma(30_001)
    rig.watts = 100
    rig.cost_e4_per_tick = 1000
    rig.run(60)
    assert rig.account.state == "exhausted" and rig.relay.closed
    assert rig.logged("relay_open_deferred") == ["credit_exhausted"]
    rig.meter.set_current_ma(30_000)  # at the limit: safe to break
    rig.tick()
    assert not rig.relay.closed and rig.logged("relay_open_forced") == []


def test_safe_break_wait_ends_after_the_timeout():
    rig = Rig(cfg(safe_break_timeout_s=120))
    rig.meter.set_current_ma(45_000)
    rig.watts = 100
    rig.cost_e4_per_tick = 1000
    assert rig.run_until(lambda: rig.relay.waiting, 60)
    waited = 0
    while rig.relay.closed:
        rig.tick()
        waited += 1
    assert waited == 240  # 120 s of 500 ms passes
    assert rig.logged("relay_open_forced") == ["credit_exhausted"]


def test_power_up_restores_open_and_opens_what_should_be_open_now():
    rig = Rig(cfg())
    run_out(rig)
    saved = rig.svc.state_bytes()
    rig2 = Rig(cfg())
    rig2.svc.load_state(saved, rig2.clock.now_ms)
    assert not rig2.relay.closed and rig2.relay_pin.v == 0
    assert rig2.logged("relay_open") == ["power_up_restore"]
    assert rig2.balance_e4() == rig.balance_e4()
    rig2.run(5)
    assert not rig2.relay.closed  # not blindly closed
    # closed by a friendly period that ended during the power cut: opens at once
    rig3 = Rig(cfg(friendly_hours=["12:00-13:00"]), sod=12 * H + 30 * 60)
    run = rig3.run
    rig3.watts = 100
    rig3.cost_e4_per_tick = 1000
    run(10)
    assert rig3.account.state == "exhausted" and rig3.relay.closed
    saved = rig3.svc.state_bytes()
    rig4 = Rig(cfg(friendly_hours=["12:00-13:00"]), sod=14 * H)
    rig4.svc.load_state(saved, rig4.clock.now_ms)
    assert rig4.relay.closed
    rig4.tick()
    assert not rig4.relay.closed and rig4.relay.reason == "credit_exhausted"


def test_corrupt_state_changes_nothing():
    rig = Rig(cfg())
    good = rig.svc.state_bytes()
    bad = bytearray(good)
    bad[3] ^= 1
    before = rig.account.registers()
    try:
        rig.svc.load_state(bytes(bad), 0)
        raise AssertionError("corrupt record accepted")
    except ValueError as e:
        assert "CRC" in str(e)
    assert rig.account.registers() == before


def test_feedback_contact_mismatch_is_an_event():
    rig = Rig(cfg(), feedback=True)
    rig.tick()
    assert rig.logged("relay_mismatch") == []
    run_out(rig)  # the coil opens, the feedback contact still reads closed (welded)
    rig.tick()
    assert rig.logged("relay_mismatch") == [0]
