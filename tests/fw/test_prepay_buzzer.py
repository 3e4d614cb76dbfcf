"""Buzzer patterns, warning repetition, quiet hours, the silence button, and
the button's debounce and hold. Pin levels are sampled each 500 ms pass."""
import buzzer
from button import Button
from fwtest import IS_MICROPYTHON, skip
from prepay_rig import Pin, Rig

H = 3600


def levels(pattern, passes):
    """Buzzer pin level at each pass after play() at t=0, polled every 500 ms."""
    pin = Pin(0)
    b = buzzer.Buzzer(pin)
    b.play(pattern, buzzer.PRIO_WARNING, 0)
    out = [pin.v]
    for k in range(1, passes):
        b.poll(k * 500)
        out.append(pin.v)
    return out


def test_patterns_on_the_pin():
    assert levels(buzzer.TOKEN_ACCEPTED, 4) == [1, 0, 0, 0]  # 1 short
    assert levels(buzzer.TOKEN_REJECTED, 7) == [1, 0, 1, 0, 1, 0, 0]  # 3 short
    assert levels(buzzer.RELAY_OPENED, 6) == [1, 1, 1, 1, 0, 0]  # one long (2 s)


def test_token_feedback_preempts_a_warning_then_the_pin_is_quiet():
    pin = Pin(0)
    b = buzzer.Buzzer(pin)
    b.play(buzzer.ALARM2, buzzer.PRIO_WARNING, 0)
    b.play(buzzer.TOKEN_REJECTED, buzzer.PRIO_TOKEN, 0)
    b.play(buzzer.ALARM1, buzzer.PRIO_WARNING, 0)  # lower: waits in the pending slot
    seen = []
    for k in range(1, 12):
        b.poll(k * 500)
        seen.append(pin.v)
    assert seen == [0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 0]  # 3 short, then ALARM1's 2 short
    assert b.played == 3


def alarm1_rig(**over):
    c = {"balance": "20.0000", "alarm1": "20.0000", "alarm2": "5.0000", "max_balance": "100.0000"}
    for k in over:
        c[k] = over[k]
    return Rig(c, sod=12 * H)


def test_alarm1_sounds_on_entry_then_at_most_hourly():
    rig = alarm1_rig()
    rig.tick()
    assert rig.buzzer.played == 1
    rig.run(H - 1)
    assert rig.buzzer.played == 1
    rig.run(1)
    assert rig.buzzer.played == 2


def test_alarm2_repeats_every_10_minutes():
    rig = alarm1_rig(balance="5.0000")
    rig.tick()
    rig.run(600 * 3)
    assert rig.buzzer.played == 4  # at 0, 10, 20 and 30 min


def test_quiet_hours_mute_warnings_but_not_token_feedback():
    rig = alarm1_rig(balance="5.0000", quiet_hours=["11:00-13:00"])
    rig.run(30 * 60)
    assert rig.buzzer.played == 0 and rig.buzz_on_ticks == 0
    rig.svc.token_feedback("accepted", rig.clock.now_ms)
    assert rig.buzz_pin.v == 1 and rig.buzzer.played == 1  # sounds at once
    rig.run(2)
    assert rig.buzz_pin.v == 0 and rig.buzzer.played == 1
    rig.run(H)  # 13:00 passes: the next 10-minute warning sounds
    assert rig.buzzer.played >= 2


def test_a_press_silences_warnings_for_the_configured_time():
    rig = alarm1_rig(balance="5.0000", silence_s=1800)
    rig.tick()
    assert rig.buzzer.played == 1
    rig.press()
    rig.run(1799)
    assert rig.buzzer.played == 1  # the 10 and 20 min warnings are muted
    rig.run(601)
    assert rig.buzzer.played == 2  # silence over: the 30 min one sounds
    rig.svc.token_feedback("used", rig.clock.now_ms)
    assert rig.buzzer.played == 3


def test_button_debounce_and_hold():
    pin = Pin(1)
    b = Button(pin, debounce_ms=500)
    pin.v = 0
    b.poll(0)
    assert not b.pressed and not b.down  # seen once: not yet stable for 500 ms
    pin.v = 1
    b.poll(500)
    assert not b.pressed  # a glitch
    pin.v = 0
    b.poll(1000)
    b.poll(1500)
    assert b.pressed and b.down
    held = []
    for t in range(2000, 6000, 500):
        b.poll(t)
        held.append(b.held)
    assert held == [False, False, False, False, True, False, False, False]  # once, at 4000 = 1000 + 3000


def test_energy_mode_run_out_allocates_nothing():
    if not IS_MICROPYTHON:
        skip("heap_lock() only means something on MicroPython")
    import micropython

    rig = Rig({"mode": "energy", "balance": "0.0100", "alarm1": "0.0080", "alarm2": "0.0040",
               "emergency_limit": "0.0020"})
    rig.run(1, 3600)  # warm up
    micropython.heap_lock()
    try:
        rig.run(60)  # 3600 W: 0.0001 kWh a 0.1 s... 1 Wh a second: runs out in ~12 s
    finally:
        micropython.heap_unlock()
    assert not rig.relay.closed and rig.account.state == "exhausted"
