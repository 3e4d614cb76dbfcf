"""Memory of the technician port on the MicroPython unix port (run by tools/bench.py).

MICROPYPATH=firmware:tests/fw:.frozen micropython tools/mpy/console_mem.py
Prints one JSON line:
  console_state_bytes        heap retained by one Iec62056Port (object + buffers),
                             modules and the provider excluded
  console_readout_alloc_bytes   heap allocated by one whole data readout (sign-on
                             to idle) with a provider that returns stored texts:
                             the protocol's own allocations
  console_readout_alloc_bytes_formatting  the same readout with a provider that
                             formats every value from integers ("%d.%03d"), as a
                             register provider does
  console_idle_poll_alloc_bytes  per idle poll (the per-tick cost when nobody is connected)
64-bit objects: roughly twice what an ESP32 needs.
"""
import gc
import json

from fake_provider import CountingIO, DictProvider
from iec62056 import Iec62056Port

KEY = b"0123456789abcdef0123456789abcdef"


class FormattingProvider(DictProvider):
    """Values made from integers on every read, like a register provider."""

    def read(self, code):
        r = self.values.get(code)
        if r is None:
            return None
        return ("%06d.%03d" % (1234, len(code)), r[1])


SIGN_ON = b"/?!\r\n"
ACK_READOUT = b"\x06050\r\n"


def readout_alloc(port, io, now):
    io.load(SIGN_ON)
    gc.collect()
    gc.disable()
    a0 = gc.mem_alloc()
    for _ in range(30):  # 300 ms: identification
        now += 10
        port.poll(now)
    io.load(ACK_READOUT)
    while True:
        now += 10
        port.poll(now)
        if not port.busy():
            break
    a1 = gc.mem_alloc()
    gc.enable()
    return a1 - a0, now


io = CountingIO()
provider = DictProvider()
formatting = FormattingProvider()
gc.collect()
base = gc.mem_alloc()
port = Iec62056Port(io, provider, KEY, "12345678")
gc.collect()
state_bytes = gc.mem_alloc() - base

now = 0
_, now = readout_alloc(port, io, now)  # warm-up
sent0 = io.sent
alloc, now = readout_alloc(port, io, now)
readout_bytes = io.sent - sent0
port2 = Iec62056Port(io, formatting, KEY, "12345678")
_, now = readout_alloc(port2, io, now)
alloc_fmt, now = readout_alloc(port2, io, now)

gc.collect()
gc.disable()
a0 = gc.mem_alloc()
for _ in range(1000):
    now += 100
    port.poll(now)
idle = (gc.mem_alloc() - a0) // 1000
gc.enable()

print(json.dumps({"console_state_bytes": state_bytes, "console_readout_alloc_bytes": alloc,
                  "console_readout_alloc_bytes_formatting": alloc_fmt, "console_readout_bytes_sent": readout_bytes,
                  "console_idle_poll_alloc_bytes": idle}))
