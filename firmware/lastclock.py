"""The last-known wall time, kept in flash so a lost RTC is noticed at power-up.

The ESP32's RTC does not survive a power cut (micropython.md). The loop saves
the wall time (seconds since 2000-01-01) with every register save; at boot
`check_rtc` compares the RTC with it. An RTC earlier than the last-known time
was lost (or set back while off): the meter then runs on the last-known time,
flags the clock as unset, and TOU pricing uses rate 3 (tariff.md's fallback)
until the clock is set, logging `clock_lost`. Time never goes backwards for
billing, so nothing is billed twice and no freeze is taken twice (FreezeStore
also refuses a freeze not later than the newest of its kind).
"""
from micropython import const

import storage

RECORD = "clock"
VERSION = const(1)
CLOCK_OK = const(0)
CLOCK_LOST = const(1)  # RTC earlier than the last-known time: use last-known, flag unset
CLOCK_UNKNOWN = const(2)  # nothing known and the RTC before the firmware's build time
# 2026-01-01 00:00 in seconds since 2000: no correct clock reads earlier.
BUILD_FLOOR_S = const(820_540_800)


def check_rtc(rtc_s, last_known_s):
    """(time_s to run on, status) at power-up; last_known_s is None if never saved."""
    if last_known_s is None:
        if rtc_s < BUILD_FLOOR_S:
            return BUILD_FLOOR_S, CLOCK_UNKNOWN
        return rtc_s, CLOCK_OK
    if rtc_s < last_known_s:
        return last_known_s, CLOCK_LOST
    return rtc_s, CLOCK_OK


def save(store, time_s, now_ms=0):
    return store.save(RECORD, VERSION, storage.pack_i32((time_s,)), now_ms)


def load(store, now_ms=0):
    """Last-known time in seconds since 2000, or None."""
    p = store.load(RECORD, VERSION, None, now_ms)
    if p is None:
        return None
    try:
        return storage.unpack_i32(p, 1)[0]
    except storage.StorageError:
        return None
