"""IEC 62056-21 mode C on the technician port: a non-blocking byte-level state machine.

One `Iec62056Port` is polled once per loop pass (`poll(now_ms)`); it reads what
the line has, advances the session, and writes at most `tx_budget` bytes, so a
pass never waits on the line. All buffers are made once in the constructor; a
readout is streamed one data line at a time with a running BCC (never the whole
message in memory). Bad input never raises out of poll() and changes nothing:
a frame with a wrong BCC or shape gets a NAK, anything else is ignored.

Session (spec: ../shared/spec/iec62056-21.md):
  300 Bd 7E1   /?[meter number]!CRLF  ->  /XXXZidentCRLF  (another address: silent)
               ACK 0 Z Y CRLF          ->  switch to Z's rate, pause ~1 s, then
  Y = '0'      STX lines... !CRLF ETX BCC, back to 300 Bd
  Y = '1'      SOH P0 STX (challenge) ETX BCC, then frames until B0 or a timeout:
    P2 (hex)          ACK when hex == first 16 hex digits of
                      HMAC-SHA-256(key, challenge as sent); NAK otherwise, and each
                      failure locks P2 out for 5 s, 10 s, 20 s ... (cap 1 h)
    R1 code(...)      STX code(value*unit) ETX BCC, or STX (ERROR) ETX BCC
    W1 code(value)    ACK / NAK; only after a good P2 (an unauthenticated W1 is NAKed
                      and the provider is not called)
    W1 0-0:19.40.0(20 digits)  needs no P2: STX 0-0:19.40.0(RESULT) ETX BCC
    P1 (password)     NAK: plain passwords grant nothing on this meter
    B0                end of session, back to 300 Bd
  A sign-on (/?...!CRLF) between frames starts over from any state.

Provider interface (the meter's registers; the application implements it):
  provider.readout_codes()      -> sequence of code strings, in readout order
  provider.read(code)           -> (value_text, unit_text or None), or None if unknown
  provider.write(code, value)   -> None on success, or a short reason string (refused)
  provider.token(digits)        -> STS result name, e.g. "ACCEPT", "USED", "CRC"
Texts are ASCII; characters ( ) / ! * and controls are replaced by '?' on the line.
Provider exceptions are caught (the session answers ERROR/NAK) and kept in
`last_error` for the application's event log: the console must not stop the meter.

io interface (firmware/serialport.py on the device, host_sim/console.py on a pty):
  io.read_into(buf) -> n   non-blocking, 0 when nothing is waiting
  io.write(buf, off, n) -> written   bytes buf[off:off+n]; non-blocking or bounded
                           (the form MicroPython streams take: no slice allocated)
  io.set_baud(baud)        7E1 at `baud`; called with the line drained
"""
import os

from micropython import const

from hmac_sha256 import hmac_sha256
from obis import AUTH_FAILURES, AUTH_LOCKOUT_S, TOKEN_GATEWAY
from ticks import ticks_add, ticks_diff

MANUFACTURER_ID = "XXX"  # placeholder until a FLAG ID is registered
BAUDS = (300, 600, 1200, 2400, 4800, 9600, 19200)  # mode C baud characters '0'..'6'

_SOH = const(0x01)
_STX = const(0x02)
_ETX = const(0x03)
_EOT = const(0x04)
_ACK = const(0x06)
_NAK = const(0x15)
_LF = const(0x0A)
_CR = const(0x0D)

# Session states
_IDLE = const(0)  # 300 Bd, listening for a sign-on
_IDENT = const(1)  # identification due at _due_ms
_WAIT_ACK = const(2)
_PAUSE = const(3)  # after the ACK: the client reopens its port (pwitab: ~0.75 s)
_READOUT = const(4)  # streaming data lines
_PROG = const(5)  # programming mode: command frames
_CLOSING = const(6)  # last bytes going out, then back to 300 Bd idle
# Receive states
_RX_NONE = const(0)
_RX_LINE = const(1)  # '/' or ACK seen: collecting to LF
_RX_FRAME = const(2)  # SOH seen: collecting to ETX/EOT
_RX_BCC = const(3)  # waiting for the BCC byte

_RX_MAX = const(160)  # SOH + R1 + STX + address(128-char value) + ETX
_TX_MAX = const(200)
_CHUNK = const(32)  # bytes read from the io per call
_REPLY_DELAY_MS = const(200)  # reaction time after a request (manufacturer ID upper case)
_PAUSE_MS = const(1000)  # after the ACK, before the readout or P0
_ACK_TIMEOUT_MS = const(3000)  # identification sent, no ACK: back to idle
_CHAR_TIMEOUT_MS = const(1500)  # a frame or line left half-way is dropped
_PROG_TIMEOUT_MS = const(60000)  # programming mode without a valid frame ends
_LOCKOUT_BASE_MS = const(5000)
_LOCKOUT_MAX_MS = const(3600000)
_CHALLENGE_BYTES = const(8)
_REPLY_HEX = const(16)  # truncated HMAC: 8 bytes, 16 hex digits
_TOKEN_DIGITS = const(20)
_MAX_ADDR = const(32)
_HEX = b"0123456789abcdef"


def auth_reply(key, challenge):
    """The P2 reply the meter expects for a P0 challenge (bytes), as hex bytes."""
    mac = hmac_sha256(key, challenge)
    out = bytearray(_REPLY_HEX)
    for i in range(_REPLY_HEX // 2):
        out[2 * i] = _HEX[mac[i] >> 4]
        out[2 * i + 1] = _HEX[mac[i] & 15]
    return bytes(out)


def _bad_char(b):
    # characters that may not appear in a value or address on the line
    return b < 0x20 or b > 0x7E or b == 0x28 or b == 0x29 or b == 0x2F or b == 0x21 or b == 0x2A


class Iec62056Port:
    """The meter side of one IEC 62056-21 mode C port."""

    def __init__(self, io, provider, key, meter_number, identification="PPM1",
                 baud_char="5", tx_budget=120, random_bytes=None):
        if not (isinstance(baud_char, str) and len(baud_char) == 1 and "0" <= baud_char <= "6"):
            raise ValueError("iec62056: baud_char %r: must be one of '0'..'6' (mode C)" % (baud_char,))
        if len(key) < 16:
            raise ValueError("iec62056: management key is %d bytes: need at least 16" % len(key))
        if not (0 < len(meter_number) <= _MAX_ADDR):
            raise ValueError("iec62056: meter number %r: 1..%d characters" % (meter_number, _MAX_ADDR))
        if tx_budget < 8:
            raise ValueError("iec62056: tx_budget %d: at least 8 bytes per poll" % tx_budget)
        self._io = io
        self._provider = provider
        self._key = bytes(key)
        self._address = meter_number.encode()
        self._ident = ("/" + MANUFACTURER_ID + baud_char + identification + "\r\n").encode()
        self._baud_char = ord(baud_char)
        self._tx_budget = tx_budget
        self._random_bytes = random_bytes or os.urandom
        self._rx = bytearray(_RX_MAX)
        self._chunk = bytearray(_CHUNK)
        self._tx = bytearray(_TX_MAX)
        self._challenge = bytearray(2 * _CHALLENGE_BYTES)
        self._expect = bytearray(_REPLY_HEX)
        self._state = _IDLE
        self._rx_state = _RX_NONE
        self._rx_n = 0
        self._rx_bcc = 0
        self._rx_overflow = False
        self._rx_ms = 0  # when the last byte arrived
        self._tx_pos = 0
        self._tx_end = 0
        self._due_ms = 0
        self._since_ms = 0  # start of the current state's timeout
        self._baud = 300
        self._readout_codes = ()
        self._readout_i = 0
        self._readout_bcc = 0
        self._has_challenge = False
        self.authenticated = False
        self._lockout_start = 0
        self._lockout_ms = 0
        # Counters and the last problem, for the application's event log.
        self.auth_failures = 0
        self.frames_ok = 0
        self.frames_bad = 0
        self.readouts = 0
        self.last_error = None
        self.last_refusal = None  # reason the provider gave for the last refused write
        io.set_baud(300)

    # --- public -------------------------------------------------------------
    def busy(self):
        """True while a session is open: poll at least every 100 ms meanwhile."""
        return self._state != _IDLE or self._rx_state != _RX_NONE

    def sending(self):
        """True while a reply is still going out (an answer is due or partly sent)."""
        return self._tx_end != 0

    def state_name(self):
        return ("idle", "ident", "wait_ack", "pause", "readout", "prog", "closing")[self._state]

    def lockout_left_ms(self, now_ms):
        if self._lockout_ms == 0:
            return 0
        d = ticks_diff(now_ms, self._lockout_start)
        if d < 0 or d >= self._lockout_ms:
            self._lockout_ms = 0
            return 0
        return self._lockout_ms - d

    def poll(self, now_ms):
        """Advance the session: read, act on whole requests, write a little."""
        try:
            self._poll(now_ms)
        except Exception as e:  # never let the console stop the meter loop
            self.last_error = "iec62056: %s: %s" % (type(e).__name__, e)
            try:
                self._to_idle()
            except Exception:
                self._state = _IDLE

    # --- the machine --------------------------------------------------------
    def _poll(self, now_ms):
        n = self._io.read_into(self._chunk)
        while n:
            for i in range(n):
                self._feed(self._chunk[i] & 0x7F, now_ms)  # 7 data bits on the line
            n = self._io.read_into(self._chunk) if n == _CHUNK else 0
        if self._rx_state != _RX_NONE and ticks_diff(now_ms, self._rx_ms) > _CHAR_TIMEOUT_MS:
            self._rx_state = _RX_NONE  # a half request: forget it
        st = self._state
        if st == _IDENT:
            if ticks_diff(now_ms, self._due_ms) >= 0:
                self._send_bytes(self._ident, now_ms)
                self._state = _WAIT_ACK
                self._since_ms = now_ms
        elif st == _WAIT_ACK:
            if self._tx_end == 0 and ticks_diff(now_ms, self._since_ms) > _ACK_TIMEOUT_MS:
                self._to_idle()
        elif st == _PAUSE:
            if ticks_diff(now_ms, self._due_ms) >= 0:
                if self._readout_codes is None:
                    self._send_challenge(now_ms)
                    self._state = _PROG
                    self._since_ms = now_ms
                else:
                    self._state = _READOUT
                    self._readout_i = -1
                    self._readout_bcc = 0
        elif st == _PROG:
            if self._tx_end == 0 and ticks_diff(now_ms, self._since_ms) > _PROG_TIMEOUT_MS:
                self._to_idle()
        budget = self._tx_budget
        while True:  # as many readout lines as this pass's budget and the io take
            if self._state == _READOUT and self._tx_end == 0:
                self._next_readout_line(now_ms)
            if self._tx_end == 0:
                break
            budget = self._write_some(now_ms, budget)
            if self._tx_end != 0 or budget <= 0:
                break  # not due yet, io full, or budget spent
        if self._state == _CLOSING and self._tx_end == 0:
            self._to_idle()

    def _to_idle(self):
        self._state = _IDLE
        self._rx_state = _RX_NONE
        self._tx_pos = self._tx_end = 0
        self.authenticated = False
        self._has_challenge = False
        if self._baud != 300:
            self._baud = 300
            self._io.set_baud(300)

    def _write_some(self, now_ms, budget):
        """Write pending tx within budget; returns the budget left."""
        if self._tx_pos == 0 and ticks_diff(now_ms, self._due_ms) < 0:
            return budget  # the reply is not due yet (reaction time)
        while self._tx_pos < self._tx_end and budget > 0:
            end = self._tx_end
            if end - self._tx_pos > budget:
                end = self._tx_pos + budget
            n = self._io.write(self._tx, self._tx_pos, end - self._tx_pos)
            if not n:
                break
            self._tx_pos += n
            budget -= n
        if self._tx_pos == self._tx_end:
            self._tx_pos = self._tx_end = 0
        return budget

    # --- receiving ------------------------------------------------------------
    def _feed(self, b, now_ms):
        self._rx_ms = now_ms
        rs = self._rx_state
        if rs == _RX_NONE:
            if self._state == _READOUT or self._state == _CLOSING:
                return  # a readout is not interrupted; the client waits for it
            if b == 0x2F or b == _ACK:  # '/' sign-on, ACK option select
                self._rx[0] = b
                self._rx_n = 1
                self._rx_overflow = False
                self._rx_state = _RX_LINE
            elif b == _SOH and self._state == _PROG:
                self._rx_n = 0
                self._rx_bcc = 0
                self._rx_overflow = False
                self._rx_state = _RX_FRAME
            return
        if rs == _RX_BCC:  # any byte is the BCC, SOH (0x01) too
            self._rx_state = _RX_NONE
            if b != self._rx_bcc or self._rx_overflow:
                self.frames_bad += 1
                self._reply_byte(_NAK, now_ms)
                return
            self._frame(now_ms)
            return
        if b == _SOH and self._state == _PROG:  # a new frame starts over
            self._rx_n = 0
            self._rx_bcc = 0
            self._rx_overflow = False
            self._rx_state = _RX_FRAME
            return
        if rs == _RX_LINE:
            if b == 0x2F:
                self._rx_n = 0
                self._rx_overflow = False
            if self._rx_n < _RX_MAX:
                self._rx[self._rx_n] = b
                self._rx_n += 1
            else:
                self._rx_overflow = True
            if b == _LF:
                self._rx_state = _RX_NONE
                if not self._rx_overflow:
                    self._line(now_ms)
            return
        if rs == _RX_FRAME:
            self._rx_bcc ^= b
            if b == _ETX or b == _EOT:
                self._rx_state = _RX_BCC
                if b == _EOT:
                    self._rx_overflow = True  # partial blocks are not accepted from a client
            elif self._rx_n < _RX_MAX:
                self._rx[self._rx_n] = b
                self._rx_n += 1
            else:
                self._rx_overflow = True
            return

    def _line(self, now_ms):
        rx = self._rx
        n = self._rx_n
        if rx[0] == 0x2F:  # /?[address]!CRLF
            if n < 5 or rx[1] != 0x3F or rx[n - 3] != 0x21 or rx[n - 2] != _CR:
                return
            alen = n - 5
            if alen:
                if alen != len(self._address):
                    return
                for i in range(alen):
                    if rx[2 + i] != self._address[i]:
                        return  # another meter's address: stay silent
            self._to_idle()
            self._state = _IDENT
            self._due_ms = ticks_add(now_ms, _REPLY_DELAY_MS)
            return
        if self._state != _WAIT_ACK:
            return
        # ACK 0 Z Y CR LF
        if n != 6 or rx[1] != 0x30 or rx[4] != _CR:
            return
        z = rx[2]
        y = rx[3]
        if z < 0x30 or z > self._baud_char or (y != 0x30 and y != 0x31):
            self._to_idle()  # a rate we did not offer, or a mode we lack (binary)
            return
        self._baud = BAUDS[z - 0x30]
        self._io.set_baud(self._baud)
        self._state = _PAUSE
        self._due_ms = ticks_add(now_ms, _PAUSE_MS)
        if y == 0x30:
            self._readout_codes = self._provider.readout_codes()
        else:
            self._readout_codes = None

    def _frame(self, now_ms):
        rx = self._rx
        n = self._rx_n
        self._since_ms = now_ms
        if n < 2:
            self.frames_bad += 1
            self._reply_byte(_NAK, now_ms)
            return
        cmd = rx[0]
        typ = rx[1]
        if n == 2:
            if cmd == 0x42 and (typ == 0x30 or typ == 0x31):  # B0 / B1
                self.frames_ok += 1
                self._to_idle()
                return
            self.frames_bad += 1
            self._reply_byte(_NAK, now_ms)
            return
        # cmd typ STX address ( value ) -- one data set
        if rx[2] != _STX or rx[n - 1] != 0x29:
            self.frames_bad += 1
            self._reply_byte(_NAK, now_ms)
            return
        open_at = -1
        for i in range(3, n - 1):
            c = rx[i]
            if c == 0x28:
                if open_at >= 0:
                    open_at = -2  # a second '('
                    break
                open_at = i
            elif c < 0x20 or c > 0x7E or c == 0x29 or c == 0x21 or (c == 0x2F and open_at < 0):
                open_at = -2
                break
        if open_at < 0 or open_at - 3 > _MAX_ADDR:
            self.frames_bad += 1
            self._reply_byte(_NAK, now_ms)
            return
        self.frames_ok += 1
        if cmd == 0x50 and typ == 0x32:  # P2
            self._check_reply(open_at + 1, n - 1, now_ms)
        elif cmd == 0x52 and typ == 0x31:  # R1
            self._read(bytes(rx[3:open_at]).decode(), now_ms)
        elif cmd == 0x57 and typ == 0x31:  # W1
            self._write(bytes(rx[3:open_at]).decode(), open_at + 1, n - 1, now_ms)
        else:  # P1 and every other command: not offered
            self._reply_byte(_NAK, now_ms)

    # --- authentication -------------------------------------------------------
    def _send_challenge(self, now_ms):
        raw = self._random_bytes(_CHALLENGE_BYTES)
        ch = self._challenge
        for i in range(_CHALLENGE_BYTES):
            ch[2 * i] = _HEX[raw[i] >> 4]
            ch[2 * i + 1] = _HEX[raw[i] & 15]
        self._expect[:] = auth_reply(self._key, ch)
        self._has_challenge = True
        self.authenticated = False
        t = self._tx
        t[0] = _SOH
        t[1] = 0x50  # P
        t[2] = 0x30  # 0
        t[3] = _STX
        t[4] = 0x28
        t[5:5 + len(ch)] = ch
        e = 5 + len(ch)
        t[e] = 0x29
        t[e + 1] = _ETX
        t[e + 2] = self._bcc(1, e + 2)
        self._tx_pos = 0
        self._tx_end = e + 3
        self._due_ms = now_ms

    def _check_reply(self, start, end, now_ms):
        rx = self._rx
        had_challenge = self._has_challenge
        self._has_challenge = False  # one answer per challenge
        self.authenticated = False  # any P2 starts authentication over
        if not had_challenge or self.lockout_left_ms(now_ms) > 0:
            self._reply_byte(_NAK, now_ms)  # locked out: not even checked
            return
        diff = (end - start) ^ _REPLY_HEX
        if diff == 0:
            for i in range(_REPLY_HEX):
                c = rx[start + i]
                if 0x41 <= c <= 0x46:
                    c += 0x20  # hex in either case
                diff |= c ^ self._expect[i]
        if diff == 0:
            self.authenticated = True
            self.auth_failures = 0
            self._reply_byte(_ACK, now_ms)
            return
        self.auth_failures += 1
        shift = self.auth_failures - 1
        lock = _LOCKOUT_MAX_MS if shift > 10 else min(_LOCKOUT_BASE_MS << shift, _LOCKOUT_MAX_MS)
        self._lockout_start = now_ms
        self._lockout_ms = lock
        self._reply_byte(_NAK, now_ms)

    # --- R1 / W1 ---------------------------------------------------------------
    def _read(self, code, now_ms):
        value = None
        unit = None
        if code == AUTH_LOCKOUT_S:
            value = str((self.lockout_left_ms(now_ms) + 999) // 1000)
            unit = "s"
        elif code == AUTH_FAILURES:
            value = str(self.auth_failures)
        else:
            try:
                r = self._provider.read(code)
            except Exception as e:
                self.last_error = "iec62056: read %s: %s: %s" % (code, type(e).__name__, e)
                r = None
            if r is not None:
                value, unit = r
        self._tx[0] = _STX
        self._tx_end = 1
        if value is None:
            self._put("(ERROR)")
        else:
            self._put_data_set(code, value, unit)
        self._finish_block(now_ms)

    def _write(self, code, start, end, now_ms):
        rx = self._rx
        if code == TOKEN_GATEWAY:
            ok = end - start == _TOKEN_DIGITS
            if ok:
                for i in range(start, end):
                    if not 0x30 <= rx[i] <= 0x39:
                        ok = False
                        break
            result = "FORMAT"
            if ok:
                try:
                    result = self._provider.token(bytes(rx[start:end]).decode())
                except Exception as e:
                    self.last_error = "iec62056: token: %s: %s" % (type(e).__name__, e)
                    result = "ERROR"
            self._tx[0] = _STX
            self._tx_end = 1
            self._put_data_set(TOKEN_GATEWAY, result, None)
            self._finish_block(now_ms)
            return
        if not self.authenticated:
            self.last_refusal = "W1 %s: no authenticated session" % code
            self._reply_byte(_NAK, now_ms)
            return
        try:
            why = self._provider.write(code, bytes(rx[start:end]).decode())
        except Exception as e:
            why = "%s: %s" % (type(e).__name__, e)
            self.last_error = "iec62056: write %s: %s" % (code, why)
        if why is None:
            self._reply_byte(_ACK, now_ms)
        else:
            self.last_refusal = "W1 %s: %s" % (code, why)
            self._reply_byte(_NAK, now_ms)

    # --- transmitting ------------------------------------------------------------
    def _reply_byte(self, b, now_ms):
        self._tx[0] = b
        self._tx_pos = 0
        self._tx_end = 1
        self._due_ms = ticks_add(now_ms, _REPLY_DELAY_MS)

    def _finish_block(self, now_ms):
        e = self._tx_end
        self._tx[e] = _ETX
        self._tx[e + 1] = self._bcc(1, e + 1)
        self._tx_pos = 0
        self._tx_end = e + 2
        self._due_ms = ticks_add(now_ms, _REPLY_DELAY_MS)

    def _send_bytes(self, data, now_ms):
        n = len(data)
        self._tx[0:n] = data
        self._tx_pos = 0
        self._tx_end = n
        self._due_ms = now_ms

    def _bcc(self, start, end):
        """XOR of tx[start:end] (end inclusive of ETX, exclusive of BCC)."""
        x = 0
        t = self._tx
        for i in range(start, end):
            x ^= t[i]
        return x

    def _put(self, text, clean=False):
        """Append ASCII text to tx (clean: characters not allowed in a value as '?').
        False, and nothing appended, if it does not fit."""
        t = self._tx
        e = self._tx_end
        n = len(text)
        if e + n > _TX_MAX - 4:  # room for CR LF ETX BCC
            return False
        for i in range(n):
            c = ord(text[i])
            if c > 0x7E or (clean and _bad_char(c)):
                c = 0x3F
            t[e + i] = c
        self._tx_end = e + n
        return True

    def _put_data_set(self, code, value, unit):
        start = self._tx_end
        ok = self._put(code) and self._put("(") and self._put(value, True)
        if ok and unit:
            ok = self._put("*") and self._put(unit, True)
        if not (ok and self._put(")")):
            self._tx_end = start
            self._put(code)
            self._put("(ERROR)")

    def _next_readout_line(self, now_ms):
        """Format the next readout line into tx, keeping the running BCC."""
        i = self._readout_i
        codes = self._readout_codes
        t = self._tx
        if i < 0:
            t[0] = _STX
            self._tx_end = 1
            self._tx_pos = 0
            self._readout_i = 0
            self._readout_bcc = 0  # BCC starts after STX
            self._due_ms = now_ms
            return
        if codes is None or i > len(codes):
            self._state = _CLOSING
            return
        self._tx_end = 0
        if i == len(codes):  # end: !CRLF ETX BCC
            self._put("!\r\n")
            t[3] = _ETX
            t[4] = self._readout_bcc ^ self._bcc(0, 4)
            self._tx_end = 5
            self._tx_pos = 0
            self._due_ms = now_ms
            self._readout_i = i + 1
            self.readouts += 1
            self._state = _CLOSING
            return
        code = codes[i]
        self._readout_i = i + 1
        try:
            r = self._provider.read(code)
        except Exception as e:
            self.last_error = "iec62056: read %s: %s: %s" % (code, type(e).__name__, e)
            r = None
        if r is None:
            self._put_data_set(code, "ERROR", None)
        else:
            self._put_data_set(code, r[0], r[1])
        self._put("\r\n")
        self._readout_bcc ^= self._bcc(0, self._tx_end)
        self._tx_pos = 0
        self._due_ms = now_ms
