"""The technician port on the device: the REPL's UART0 behind the USB-UART bridge.

`StdioPort` is the io of firmware/iec62056.py over sys.stdin/sys.stdout, which on
the ESP32 are UART0, and on the unix port whatever fd the process was given (the
tests give it a pseudo-terminal).

Taking the port from the REPL: `micropython.kbd_intr(-1)`, so byte 0x03 (ETX,
every frame ends with one) is data instead of a KeyboardInterrupt, and UART0 is
set to 300 Bd 7E1; from then on nothing else may print (print() and tracebacks
would land in the protocol stream: log to the event log instead).
Giving it back (the authenticated maintenance command, after the application
has saved its state and left its loop): `release()` sets UART0 to 115200 8N1 and
Ctrl-C back on, and main.run() returns to the REPL. Until then the REPL, and so
mpremote, cannot break in: that is the point. (Not yet tried on a board: re-init
of UART0 with `machine.UART(0).init(...)` is the documented way on the ESP32.)
"""
import select
import sys

import micropython

_REPL_BAUD = 115200


class StdioPort:
    """Non-blocking read_into/write/set_baud over the REPL's stdin/stdout."""

    def __init__(self, uart=None):
        # uart: machine.UART(0) on the device (baud and parity switching); None
        # on the unix port, where the line has no baud rate.
        self._uart = uart
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._one = bytearray(1)
        self._poller = select.poll()
        self._poller.register(sys.stdin, select.POLLIN)
        micropython.kbd_intr(-1)
        self.baud = 0

    def read_into(self, buf):
        # One byte per readinto: the ESP32's stdin readinto waits until it has
        # filled the whole buffer. ipoll(0) allocates nothing.
        n = 0
        size = len(buf)
        while n < size:
            ready = False
            for _ in self._poller.ipoll(0):
                ready = True
            if not ready:
                break
            if not self._in.readinto(self._one):
                break
            buf[n] = self._one[0]
            n += 1
        return n

    def write(self, buf, off, n):
        # MicroPython streams take (buf, off, max_len): no slice is allocated
        written = self._out.write(buf, off, n)
        return n if written is None else written

    def set_baud(self, baud):
        self.baud = baud
        if self._uart is not None:
            if hasattr(self._uart, "flush"):
                self._uart.flush()  # let the last reply leave at the old rate
            self._uart.init(baudrate=baud, bits=7, parity=0, stop=1)  # parity 0: even

    def release(self):
        """Hand the port back to the REPL: 115200 8N1, Ctrl-C on."""
        if self._uart is not None:
            if hasattr(self._uart, "flush"):
                self._uart.flush()
            self._uart.init(baudrate=_REPL_BAUD, bits=8, parity=None, stop=1)
        self._poller.unregister(sys.stdin)
        micropython.kbd_intr(3)
