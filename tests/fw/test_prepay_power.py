"""Maximum power limit: trip delay over windows, hold-off, lockout, the button;
and the steady-state pass allocates nothing (heap_lock on the unix port).
The rig's scale is 1 LSB = 1 W.s, so P watts book P/2 LSB a 500 ms pass."""
from fwtest import IS_MICROPYTHON, skip
from prepay_rig import Rig

CFG = {"balance": "1000.0000", "max_balance": "10000.0000", "power_limit_w": 1000,
       "power_window_s": 10, "power_trip_delay_s": 30, "power_holdoff_s": 60,
       "power_lockout_trips": 3, "power_lockout_window_s": 3600}


def test_exactly_the_limit_never_trips():
    rig = Rig(CFG)
    rig.run(300, 1000)
    assert rig.relay.closed and rig.svc.power.trips == 0


def test_above_the_limit_trips_after_the_delay_and_recloses_after_the_holdoff():
    rig = Rig(CFG)
    rig.watts = 1002
    n = 0
    while rig.relay.closed:
        rig.tick()
        n += 1
        assert n < 1000
    assert n == 60  # three 10 s windows over the limit = 30 s = 60 passes
    assert rig.relay.reason == "power_limit" and rig.svc.power.trips == 1
    n = 0
    while not rig.relay.closed:
        rig.tick()
        n += 1
        assert n < 1000
    assert n == 120  # 60 s hold-off
    assert rig.relay.reason == "power_limit"


def test_a_short_excursion_shorter_than_the_delay_does_not_trip():
    rig = Rig(CFG)
    for _ in range(10):
        rig.run(20, 3000)  # two windows over
        rig.run(10, 500)  # one under: the over-limit time starts again
    assert rig.relay.closed and rig.svc.power.trips == 0


def test_third_trip_locks_out_until_a_3_second_hold():
    rig = Rig(CFG)
    rig.watts = 2000
    for trip in (1, 2, 3):
        assert rig.run_until(lambda: not rig.relay.closed, 200)
        assert rig.svc.power.trips == trip
        if trip < 3:
            assert rig.run_until(lambda: rig.relay.closed, 200)
    assert rig.svc.power.locked_out and rig.logged("power_lockout") == [3]
    rig.run(600)
    assert not rig.relay.closed  # no hold-off reclose once locked out
    rig.watts = 500
    rig.hold_button(4)  # seen down on 8 passes: 3.5 s from the first to the last
    assert rig.relay.closed and rig.relay.reason == "button"
    assert not rig.svc.power.locked_out and rig.svc.power.trips == 0


def test_a_token_sets_the_limit_and_zero_removes_it():
    c = dict(CFG)
    c["power_limit_w"] = 0
    rig = Rig(c)
    rig.run(100, 5000)
    assert rig.relay.closed
    rig.account.set_power_limit_w(4000)
    assert rig.run_until(lambda: not rig.relay.closed, 100)
    rig.account.set_power_limit_w(0)
    assert rig.run_until(lambda: rig.relay.closed, 100)
    rig.run(100)
    assert rig.relay.closed


def test_steady_pass_allocates_nothing():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    c = dict(CFG)
    c["friendly_hours"] = ["18:00-08:00"]
    c["quiet_hours"] = ["22:00-07:00"]
    c["alarm1"] = "1000.0000"  # alarm1 at once: its pattern plays on under the lock
    rig = Rig(c)
    rig.cost_e4_per_tick = 3
    rig.run(1, 900)  # warm up
    micropython.heap_lock()
    try:
        rig.run(120)  # windows close, the buzzer plays, buckets rotate
        rig.watts = 1500
        rig.run(40)  # over the limit: a trip opens the relay
    finally:
        micropython.heap_unlock()
    assert rig.svc.power.trips == 1 and rig.buzzer.played >= 2
