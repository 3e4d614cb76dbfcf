"""Boot on the ESP32: build the real hardware from board.py, run the loop.

Runs under the simulator too: host_sim puts a fake `machine` on the path and
calls run() with a tick limit.
"""
import time

import board
import calibration
import machine
from meter import Meter
from ticks import ticks_add, ticks_diff


def load_calibration(path=board.CALIBRATION_FILE):
    with open(path) as f:
        return calibration.from_json(f.read(), path)


def build_meter(cal):
    spi = machine.SPI(
        board.SPI_ID,
        baudrate=board.SPI_BAUD,
        polarity=0,
        phase=1,  # ADE7753: SPI mode 1
        sck=machine.Pin(board.PIN_SCK),
        mosi=machine.Pin(board.PIN_MOSI),
        miso=machine.Pin(board.PIN_MISO),
    )
    cs = machine.Pin(board.PIN_CS, machine.Pin.OUT, value=1)
    return Meter(spi, cs, cal, board.CLKIN_HZ)


def _try_boot(now, cal_path):
    """The meter, or (None, why) while it cannot run: no valid calibration.

    An uncalibrated meter must not bill, but its loop keeps running (and the
    watchdog fed) so the calibration can be written and picked up without a
    reboot loop.
    """
    try:
        meter = build_meter(load_calibration(cal_path))
    except (OSError, calibration.CalibrationError) as e:
        return None, "not calibrated: %s" % e
    meter.start(now)  # a missing chip is logged inside and retried by tick()
    return meter, None


def run(max_ticks=-1, ticks_ms=None, sleep_ms=None, cal_path=board.CALIBRATION_FILE):
    """Meter forever (or max_ticks ticks). The watchdog is fed only here,
    after a loop pass that ran to the end, so a hung loop reboots the meter.
    The simulator passes its virtual clock as ticks_ms/sleep_ms."""
    ticks_ms = ticks_ms or time.ticks_ms
    sleep_ms = sleep_ms or time.sleep_ms
    wdt = machine.WDT(timeout=board.WDT_TIMEOUT_MS)
    meter = None
    why_not = None
    due = ticks_ms()  # boot at once, then every TICK_MS
    done = 0
    while done != max_ticks:
        now = ticks_ms()
        wait = ticks_diff(due, now)
        if wait > 0:
            sleep_ms(wait)
            continue
        if meter is None:
            meter, why = _try_boot(now, cal_path)
            if why is not None and why != why_not:
                print(why)  # the console will show this; for now the REPL does
            why_not = why
        else:
            meter.tick(now)
        wdt.feed()
        due = ticks_add(due, board.TICK_MS)
        if ticks_diff(now, due) > board.TICK_MS:  # fell behind: don't burst
            due = ticks_add(now, board.TICK_MS)
        done += 1
    return meter


if __name__ == "__main__":
    run()
