"""The technician port under the MicroPython unix port, on its own stdin/stdout.

MICROPYPATH=firmware:tests/fw:.frozen micropython tools/mpy/console_run.py KEYHEX METER SECONDS
The host test starts it with stdin and stdout on the master side of a
pseudo-terminal and talks to the slave with an IEC 62056-21 client. The provider
is the test fake over a dict (tests/fw/fake_provider.py): the protocol code is
what runs here, exactly as on the device. Prints nothing of its own.
"""
import sys
import time

import binascii
from fake_provider import DictProvider
from iec62056 import Iec62056Port
from serialport import StdioPort

key = binascii.unhexlify(sys.argv[1])
meter = sys.argv[2]
seconds = int(sys.argv[3])
provider = DictProvider()
provider.token_results["23716100501183194197"] = "ACCEPT"
port = Iec62056Port(StdioPort(), provider, key, meter)
start = time.ticks_ms()
while time.ticks_diff(time.ticks_ms(), start) < seconds * 1000:
    port.poll(time.ticks_ms())
    time.sleep_ms(5 if port.busy() else 20)
