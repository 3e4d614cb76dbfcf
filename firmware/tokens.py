"""The token gateway: the meter-side STS rules around sts.Decoder.

Every token entered gets exactly one result (the names below). The gateway
owns the key data, the TID memory and the entry lockout; it does not own the
balance. It talks to an `account` collaborator:

    account.can_credit(mode, amount) -> None, or a result name to refuse with
        (e.g. FUNCTION_NOT_SUPPORTED for the other credit mode, OVERFLOW above
        the maximum balance, RANGE)
    account.apply_credit(mode, amount, tid)     called once per accepted credit token
    account.set_power_limit_w(w)                0 = no limit
    account.clear_credit()
    account.clear_tamper()
    account.meter_test(subclass, control)       class 1 test/display token

where mode is "energy" (amount in Wh) or "currency" (amount in 0.0001
currency units). Time comes in as `now_ms` (monotonic ticks, for the lockout
and the key-change window). state_bytes()/load_state() carry everything that
must survive a power cut (key data, base date, TID memory), so storage can
commit a credit and its TID in one write.
"""
from micropython import const

import sts
from ticks import ticks_diff

ACCEPTED = "accepted"
KC1_ACCEPTED = "kc1_accepted"  # first key-change section held, waiting for the second
KC2_ACCEPTED = "kc2_accepted"
OLD = "old"
USED = "used"
KEY_EXPIRED = "key_expired"
CRC = sts.CRC
FORMAT = sts.FORMAT
RANGE = "range"
OVERFLOW = "overflow"
FUNCTION_NOT_SUPPORTED = "function_not_supported"
LOCKOUT = "lockout"
KEY_TYPE = "key_type"
MANUFACTURER_CODE = "manufacturer_code"

ENERGY = "energy"
CURRENCY = "currency"

BASE_DATES = (1993, 2014, 2035)
TID_SLOTS = const(50)
KEY_CHANGE_WINDOW_MS = const(600_000)  # a lone key-change section is forgotten after 10 min
LOCKOUT_AFTER = const(3)
LOCKOUT_FIRST_MS = const(10_000)
LOCKOUT_CAP_MS = const(3_600_000)

_SMALL_MAX = const(0x3FFFFFFF)  # ESP32 small int: amounts beyond cannot be a balance
_STATE_VERSION = const(1)
_STATE_HEAD = const(15)  # version, key 8, kt, krn, ti, ken, base date, slots
_EVENTS_MAX = const(16)
_KT_DEFAULT = const(1)  # default key: only key-change tokens may use it
_KT_INIT = const(0)  # factory initialisation key: never the target of a key change


class TokenGateway:
    def __init__(self, account, key, key_type=2, krn=1, ti=1, ken=255,
                 base_date=2014, manufacture_tid=0, mfr_code=0,
                 currency_res_e4=100, power_limit_max_w=0, tid_slots=TID_SLOTS,
                 lockout_after=LOCKOUT_AFTER, lockout_first_ms=LOCKOUT_FIRST_MS,
                 lockout_cap_ms=LOCKOUT_CAP_MS):
        if len(key) != 8:
            raise ValueError("tokens: decoder key has %d bytes, need 8" % len(key))
        if base_date not in BASE_DATES:
            raise ValueError("tokens: base date %r is not 1993, 2014 or 2035" % (base_date,))
        if not 0 <= manufacture_tid <= 0xFFFFFF:
            raise ValueError("tokens: manufacture TID %r is outside 0..16777215" % (manufacture_tid,))
        if key_type < 0 or key_type > 3 or krn < 0 or krn > 15 or ti < 0 or ti > 255 or ken < 0 or ken > 255:
            raise ValueError("tokens: key data out of range (KT 0..3, KRN 0..15, TI 0..255, KEN 0..255)")
        if currency_res_e4 < 1 or tid_slots < 1 or tid_slots > 255:
            raise ValueError("tokens: currency resolution must be >= 1 and TID slots 1..255")
        self.account = account
        self.key = bytearray(key)
        self.key_type = key_type
        self.krn = krn
        self.ti = ti
        self.ken = ken
        self.base_date = base_date
        self.mfr_code = mfr_code
        self.currency_res_e4 = currency_res_e4
        self.power_limit_max_w = power_limit_max_w
        self.tids = [manufacture_tid] * tid_slots  # at manufacture: all the manufacture time
        self.lockout_after = lockout_after
        self.lockout_first_ms = lockout_first_ms
        self.lockout_cap_ms = lockout_cap_ms
        self.decoder = sts.Decoder()
        # RAM only: a power cycle resets the lockout and forgets a lone section
        self.failures = 0
        self.lock_ms = 0
        self.lock_start_ms = 0
        self.locked = False
        self._kc_section = 0  # 3 or 4 while one key-change section waits
        self._kc_ms = 0
        self._kc_block = bytearray(8)
        # what the last token was (for the display, events and the buzzer)
        self.last_result = ""
        self.last_class = -1
        self.last_subclass = -1
        self.last_tid = -1
        self.last_mode = ""
        self.last_amount = 0  # credit in account units, watts, or test control bits
        self.events = []  # (now_ms, kind, detail), newest last
        self.events_dropped = 0

    # --- entry ---------------------------------------------------------------
    def enter(self, token, now_ms):
        """Decode and apply one token; returns its result name."""
        self.last_class = self.last_subclass = self.last_tid = -1
        self.last_mode = ""
        self.last_amount = 0
        if self.locked:
            if ticks_diff(now_ms, self.lock_start_ms) < self.lock_ms:
                return self._finish(LOCKOUT, now_ms)
            self.locked = False
        result = self._enter(token, now_ms)
        if result == ACCEPTED or result == KC1_ACCEPTED or result == KC2_ACCEPTED:
            self.failures = 0
            self.lock_ms = 0
        else:
            self.failures += 1
            if self.failures >= self.lockout_after:
                # each failure from the third on locks again, for twice as long
                self.lock_ms = self.lockout_first_ms if self.lock_ms == 0 else min(
                    self.lock_ms * 2, self.lockout_cap_ms)
                self.lock_start_ms = now_ms
                self.locked = True
        return self._finish(result, now_ms)

    def lockout_remaining_ms(self, now_ms):
        if not self.locked:
            return 0
        return max(0, self.lock_ms - ticks_diff(now_ms, self.lock_start_ms))

    def _enter(self, token, now_ms):
        d = self.decoder
        r = d.decode(token, self.key)
        if r != sts.OK:
            return r
        cls = d.cls
        self.last_class = cls
        self.last_subclass = d.subclass
        if cls == 1:
            return self._test_token(d)
        if cls == 2 and (d.subclass == 3 or d.subclass == 4):
            return self._key_change(d, now_ms)
        if cls == 3:
            return FUNCTION_NOT_SUPPORTED
        if self.key_type == _KT_DEFAULT:
            return KEY_TYPE
        tid = d.tid
        self.last_tid = tid
        if self.ken != 255 and (tid >> 16) > self.ken:
            return KEY_EXPIRED
        r = self._tid_check(tid)
        if r is not None:
            return r
        if cls == 0:
            return self._credit(d, tid)
        return self._management(d, tid)

    def _tid_check(self, tid):
        oldest = tids_min(self.tids)
        for t in self.tids:
            if t == tid:
                return USED
        if tid < oldest:
            return OLD
        return None

    def _remember(self, tid):
        tids = self.tids
        oldest = tids_min(tids)
        for i in range(len(tids)):
            if tids[i] == oldest:
                tids[i] = tid
                return

    def _credit(self, d, tid):
        sub = d.subclass
        value = sts.amount_value(d.amount_raw)
        if sub == 0:
            mode = ENERGY
            scale = 100  # 0.1 kWh -> Wh
        elif sub >= 4:
            mode = CURRENCY
            scale = self.currency_res_e4
        else:
            return FUNCTION_NOT_SUPPORTED  # water, gas, time
        self.last_mode = mode
        if value > _SMALL_MAX // scale:
            return OVERFLOW  # more than any balance this meter can hold
        amount = value * scale
        self.last_amount = amount
        refused = self.account.can_credit(mode, amount)
        if refused is not None:
            return refused
        self.account.apply_credit(mode, amount, tid)
        self._remember(tid)
        return ACCEPTED

    def _management(self, d, tid):
        sub = d.subclass
        a = self.account
        if sub == 0:
            w = sts.amount_value(d.amount_raw)
            self.last_amount = w
            if self.power_limit_max_w and w > self.power_limit_max_w:
                return RANGE
            a.set_power_limit_w(w)
        elif sub == 1:
            reg = d.amount_raw
            if reg != 0 and reg != 0xFFFF:  # electricity, or all registers
                return FUNCTION_NOT_SUPPORTED
            a.clear_credit()
        elif sub == 5:
            a.clear_tamper()
        else:
            return FUNCTION_NOT_SUPPORTED  # tariff rate, phase unbalance, 128-bit key sections
        self._remember(tid)
        return ACCEPTED

    def _test_token(self, d):
        b = d.block
        if d.subclass == 0:  # control bits 59..24, manufacturer code 23..16
            mfr = b[2]
            control = ((b[6] & 0x3F) << 24) | (b[5] << 16) | (b[4] << 8) | b[3]
        elif d.subclass == 1:  # control bits 59..32, manufacturer code 31..16
            mfr = (b[3] << 8) | b[2]
            control = ((b[7] & 15) << 24) | (b[6] << 16) | (b[5] << 8) | b[4]
        else:
            return FUNCTION_NOT_SUPPORTED
        if mfr != self.mfr_code:
            return MANUFACTURER_CODE
        self.last_amount = control  # the low 30 control bits (the defined ones)
        self.account.meter_test(d.subclass, control)
        return ACCEPTED

    def _key_change(self, d, now_ms):
        sub = d.subclass
        b = d.block
        if sub == 3 and (b[6] & 3) == _KT_INIT:  # KT bits 49..48
            return KEY_TYPE
        other = 7 - sub  # 3 <-> 4
        if self._kc_section == other and ticks_diff(now_ms, self._kc_ms) <= KEY_CHANGE_WINDOW_MS:
            if sub == 3:
                self._complete_key_change(b, self._kc_block)
            else:
                self._complete_key_change(self._kc_block, b)
            self._kc_section = 0
            return ACCEPTED
        # first of a pair (or a repeat, or the partner came too late): hold it
        kb = self._kc_block
        for j in range(8):
            kb[j] = b[j]
        self._kc_section = sub
        self._kc_ms = now_ms
        return KC1_ACCEPTED if sub == 3 else KC2_ACCEPTED

    def _complete_key_change(self, first, second):
        # 1st: KENHO 59..56, KRN 55..52, RO 51, KT 49..48, NKHO 47..16
        # 2nd: KENLO 59..56, TI 55..48, NKLO 47..16. The key integer is NKHO:NKLO,
        # stored little-endian: NKLO in bytes 0..3, NKHO in bytes 4..7.
        k = self.key
        for j in range(4):
            k[j] = second[2 + j]
            k[4 + j] = first[2 + j]
        self.ken = ((first[7] & 15) << 4) | (second[7] & 15)
        self.krn = first[6] >> 4
        self.key_type = first[6] & 0x03
        self.ti = second[6]
        if first[6] & 0x08:  # roll-over: new TID era
            i = 0
            while BASE_DATES[i] != self.base_date:
                i += 1
            if i + 1 < len(BASE_DATES):
                self.base_date = BASE_DATES[i + 1]
            for i in range(len(self.tids)):
                self.tids[i] = 0

    # --- events --------------------------------------------------------------
    def _finish(self, result, now_ms):
        self.last_result = result
        kind = "token_accepted" if (result == ACCEPTED or result == KC1_ACCEPTED
                                    or result == KC2_ACCEPTED) else "token_rejected"
        if len(self.events) >= _EVENTS_MAX:
            self.events.pop(0)
            self.events_dropped += 1
        self.events.append((now_ms, kind, "%s class=%d/%d tid=%d amount=%d" % (
            result, self.last_class, self.last_subclass, self.last_tid, self.last_amount)))
        return result

    # --- persistence ---------------------------------------------------------
    def state_bytes(self):
        """Key data, base date and TID memory as a compact CRC-protected record."""
        n = len(self.tids)
        out = bytearray(_STATE_HEAD + 3 * n + 2)
        out[0] = _STATE_VERSION
        for j in range(8):
            out[1 + j] = self.key[j]
        out[9] = self.key_type
        out[10] = self.krn
        out[11] = self.ti
        out[12] = self.ken
        out[13] = BASE_DATES.index(self.base_date)
        out[14] = n
        p = _STATE_HEAD
        for t in self.tids:
            out[p] = t >> 16
            out[p + 1] = (t >> 8) & 0xFF
            out[p + 2] = t & 0xFF
            p += 3
        crc = sts.crc16(out, p)
        out[p] = crc >> 8
        out[p + 1] = crc & 0xFF
        return bytes(out)

    def load_state(self, b):
        """Restore from state_bytes(); ValueError (and nothing changed) if it is not one."""
        n = len(self.tids)
        want = _STATE_HEAD + 3 * n + 2
        if len(b) != want:
            raise ValueError("tokens state: %d bytes, expected %d for %d TID slots" % (len(b), want, n))
        if b[0] != _STATE_VERSION:
            raise ValueError("tokens state: version %d, this firmware reads %d" % (b[0], _STATE_VERSION))
        crc = sts.crc16(b, want - 2)
        if b[want - 2] != crc >> 8 or b[want - 1] != crc & 0xFF:
            raise ValueError("tokens state: CRC does not match (corrupt record)")
        if b[14] != n or b[13] >= len(BASE_DATES) or b[9] > 3 or b[10] > 15:
            raise ValueError("tokens state: field out of range (slots, base date, KT or KRN)")
        for j in range(8):
            self.key[j] = b[1 + j]
        self.key_type = b[9]
        self.krn = b[10]
        self.ti = b[11]
        self.ken = b[12]
        self.base_date = BASE_DATES[b[13]]
        p = _STATE_HEAD
        for i in range(n):
            self.tids[i] = (b[p] << 16) | (b[p + 1] << 8) | b[p + 2]
            p += 3
        self._kc_section = 0


def tids_min(tids):
    m = tids[0]
    for t in tids:
        if t < m:
            m = t
    return m
