"""Runs under the MicroPython unix port (started by tools/bench.py).

Prints one JSON line: the time of one decode of a valid token, the bytes one
decode allocates (token as bytes, as a keypad buffer holds it, and as str, as
the console hands it over), whether the bytes decode passes heap_lock, the
time of one full gateway entry, and the RAM a decoder plus a gateway (50 TID
slots) hold as objects (64-bit unix port: about twice an ESP32's).
MICROPYPATH=firmware:tests/fw:.frozen
"""
import gc
import json
import time

import micropython

import sts  # noqa: E402
import tokens  # noqa: E402


class Account:
    def can_credit(self, mode, amount):
        return None

    def apply_credit(self, mode, amount, tid):
        pass


KEY = sts.key_from_hex("6ff35b9d1f3453e6")
TOKEN_STR = "23716100501183194197"
TOKEN = bytearray(TOKEN_STR.encode())
gc.collect()
base = gc.mem_alloc()
d = sts.Decoder()
gw = tokens.TokenGateway(Account(), KEY, base_date=1993, manufacture_tid=1000, lockout_after=1 << 29)
gc.collect()
held = gc.mem_alloc() - base
assert d.decode(TOKEN, KEY) == sts.OK

locked_ok = True
micropython.heap_lock()
try:
    d.decode(TOKEN, KEY)
except MemoryError:
    locked_ok = False
micropython.heap_unlock()


def alloc_per(fn, n):
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for _ in range(n):
        fn()
    a1 = gc.mem_alloc()
    gc.enable()
    return (a1 - a0) // n


alloc_bytes = alloc_per(lambda: d.decode(TOKEN, KEY), 50)
alloc_str = alloc_per(lambda: d.decode(TOKEN_STR, KEY), 50)


def timed(fn, n):
    t0 = time.ticks_us()
    for _ in range(n):
        fn()
    return time.ticks_diff(time.ticks_us(), t0) / n


decode_us = timed(lambda: d.decode(TOKEN, KEY), 300)
enter_us = timed(lambda: gw.enter(TOKEN_STR, 0), 300)  # USED after the first: the full rule path
print(json.dumps({"token_decode_us": round(decode_us, 1), "token_decode_alloc_bytes": alloc_bytes,
                  "token_decode_str_alloc_bytes": alloc_str, "token_decode_heap_lock_ok": locked_ok,
                  "token_enter_us": round(enter_us, 1), "token_gateway_ram_bytes": held}))
