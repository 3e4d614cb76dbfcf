"""STS token vending tool: decode, encode, key change pairs, decoder keys.

    python -m tools.sts decode TOKEN --key HEX16 [--json]
    python -m tools.sts encode --key HEX16 --class C --subclass S --tid N --amount-raw A --rnd R
    python -m tools.sts encode --key HEX16 --kwh 12.5 --date 2026-03-01T08:00   (helpers)
    python -m tools.sts keychange --key OLD --new-key NEW --kt 2 --krn 2 --ti 1 [--ken 255] [--rollover]
    python -m tools.sts decoder-key --algorithm dkga02|dkga04 --vending-key HEX --kt N --sgc NNNNNN
                                    --ti N --krn N --pan DIGITS18 [--base-date 1993|2014|2035]

This is a host-side implementation written independently of firmware/sts.py
(plain Python integers here, bytes there), so the tests can cross-check the
two. DKGA02 uses DES from the `cryptography` package, DKGA04 HMAC-SHA-256.
Bad arguments print one line on stderr and exit with status 2.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import json
import secrets
import sys
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

_S1 = (14, 10, 7, 9, 12, 3, 2, 5, 13, 0, 15, 1, 4, 8, 6, 11)
_S2 = (12, 8, 2, 13, 7, 6, 1, 3, 11, 5, 9, 15, 0, 4, 10, 14)
_S1_INV = tuple(_S1.index(v) for v in range(16))
_S2_INV = tuple(_S2.index(v) for v in range(16))
_P = (55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50, 6, 36, 12, 61, 37, 38, 53, 16, 62, 3, 7, 4,
      32, 20, 63, 25, 51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13, 5, 40, 60, 39, 11, 15, 17, 1, 0,
      57, 34, 59, 8, 47, 14, 45, 26)
_M64 = (1 << 64) - 1
BASE_DATES = (1993, 2014, 2035)
AMOUNT_MAX = 18_201_624
CLASS0_UNITS = {0: "kWh", 1: "m3 water", 2: "m3 gas", 3: "time"}  # 4..7: currency


class UsageError(ValueError):
    """A bad argument: reported as one line, exit status 2."""


# --- EA07 (STA) on 64-bit integers -------------------------------------------
def _rotr(x: int, n: int) -> int:
    return ((x >> n) | (x << (64 - n))) & _M64


def _rotl(x: int, n: int) -> int:
    return ((x << n) | (x >> (64 - n))) & _M64


def key_int(key: bytes) -> int:
    """The STA key integer: the 8 key bytes (as written in hex) read little-endian."""
    return int.from_bytes(key, "little")


def sta_encrypt(block: int, key: bytes) -> int:
    k = _rotr(~key_int(key) & _M64, 12)
    for _ in range(16):
        s = 0
        for i in range(16):
            n = (block >> (4 * i)) & 15
            s |= (_S2[n] if (k >> (4 * i + 3)) & 1 else _S1[n]) << (4 * i)
        block = 0
        for i in range(64):
            if (s >> i) & 1:
                block |= 1 << _P[i]
        k = _rotl(k, 1)
    return block


def sta_decrypt(block: int, key: bytes) -> int:
    k = key_int(key)
    for _ in range(16):
        p = 0
        for i in range(64):
            if (block >> _P[i]) & 1:
                p |= 1 << i
        block = 0
        for i in range(16):
            n = (p >> (4 * i)) & 15
            block |= (_S1_INV[n] if (k >> (4 * i)) & 1 else _S2_INV[n]) << (4 * i)
        k = _rotr(k, 1)
    return block


# --- token number, CRC, amount -------------------------------------------------
def crc16_modbus(data: bytes) -> int:
    c = 0xFFFF
    for b in data:
        c ^= b
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c


def block_crc(cls: int, block: int) -> int:
    """The 16-bit CRC field (byte-swapped MODBUS CRC) for a block's bits 63..16."""
    c = crc16_modbus(((cls << 48) | (block >> 16)).to_bytes(7, "big"))
    return ((c & 0xFF) << 8) | (c >> 8)


def make_block(cls: int, subclass: int, rnd: int, tid: int, amount_raw: int) -> int:
    b = (subclass << 60) | (rnd << 56) | (tid << 32) | (amount_raw << 16)
    return b | block_crc(cls, b)


def token_from_block(cls: int, block: int, key: bytes) -> str:
    c = block if cls == 1 else sta_encrypt(block, key)
    t = c & ~(3 << 27) & _M64
    t |= ((cls >> 1) & 1) << 28 | (cls & 1) << 27 | ((c >> 28) & 1) << 65 | ((c >> 27) & 1) << 64
    return "%020d" % t


def block_from_token(token: str, key: bytes) -> tuple[int, int]:
    """(class, plain block) of a 20-digit token; UsageError if it is not one."""
    if len(token) != 20 or not token.isdigit() or not token.isascii():
        raise UsageError(f"token '{token}': need exactly 20 decimal digits")
    t = int(token)
    if t >> 66:
        raise UsageError(f"token '{token}': above 2^66 - 1, not an STS token number")
    cls = ((t >> 28) & 1) << 1 | ((t >> 27) & 1)
    c = (t & _M64 & ~(3 << 27)) | ((t >> 65) & 1) << 28 | ((t >> 64) & 1) << 27
    return cls, (c if cls == 1 else sta_decrypt(c, key))


def amount_value(raw: int) -> int:
    e, m = raw >> 14, raw & 0x3FFF
    return m * 10**e + sum(2**14 * 10 ** (n - 1) for n in range(1, e + 1))


def amount_raw_exact(value: int) -> int:
    """The amount field carrying exactly `value` units; UsageError if none does."""
    if not 0 <= value <= AMOUNT_MAX:
        raise UsageError(f"amount {value} units is outside 0..{AMOUNT_MAX}")
    for e in range(4):
        base = sum(2**14 * 10 ** (n - 1) for n in range(1, e + 1))
        m, r = divmod(value - base, 10**e)
        if value >= base and r == 0 and m < 2**14:
            return (e << 14) | m
    lower = max(v for v in (amount_value(r) for r in range(1 << 16)) if v <= value)
    raise UsageError(f"amount {value} units is not exactly representable in STS; nearest below is {lower}")


# --- dates and TIDs ------------------------------------------------------------
def tid_of(when: dt.datetime, base_date: int) -> int:
    minutes = int((when - dt.datetime(base_date, 1, 1)).total_seconds() // 60)
    if not 0 <= minutes < 1 << 24:
        raise UsageError(f"date {when.isoformat()} is outside the TID range of base date {base_date}")
    return minutes


def time_of(tid: int, base_date: int) -> dt.datetime:
    return dt.datetime(base_date, 1, 1) + dt.timedelta(minutes=tid)


# --- decoder keys -------------------------------------------------------------
def _des_ecb(key: bytes, block: bytes) -> bytes:
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
    from cryptography.hazmat.primitives.ciphers import Cipher, modes

    enc = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()  # K1=K2=K3: single DES
    return enc.update(block) + enc.finalize()


def check_pan(pan: str) -> None:
    if len(pan) != 18 or not pan.isdigit() or not pan.isascii():
        raise UsageError(f"--pan '{pan}': need 18 digits (6-digit IIN, 11-digit account number, check digit)")
    total = 0
    for i, ch in enumerate(reversed(pan)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    if total % 10:
        raise UsageError(f"--pan '{pan}': the Luhn check digit does not match")


def dkga02(vending_key: bytes, kt: int, sgc: str, ti: int, krn: int, pan: str) -> bytes:
    """DKGA02: DES of (PAN block XOR control block), as sts.md gives it."""
    pan_block = bytes.fromhex(pan[1:6] + pan[6:17])
    control = bytes.fromhex("%X%s%02d%XFFFFFF" % (kt, sgc, ti, krn))
    mixed = bytes(a ^ b for a, b in zip(pan_block, control))
    derived = bytes(a ^ b ^ c for a, b, c in zip(_des_ecb(vending_key, mixed), mixed, vending_key))
    return derived[::-1]


def dkga04_data(base_date: int, ti: int, sgc: str, kt: int, krn: int, pan: str) -> bytes:
    bd = b"%02d" % (base_date % 100)
    return (b"\x04\x02" + b"04" + b"\x02" + bd + b"\x02" + b"07" + b"\x02" + b"%02d" % ti
            + b"\x00\x04\x06" + sgc.encode() + b"\x01" + b"%X" % kt + b"\x01" + b"%X" % krn
            + b"\x12" + pan.encode() + b"\x00\x00\x00\x40")


def dkga04(vending_key: bytes, kt: int, sgc: str, ti: int, krn: int, pan: str, base_date: int) -> bytes:
    """DKGA04: HMAC-SHA-256 over the data string; the STA key is its first 8 bytes reversed."""
    mac = hmac.new(vending_key, dkga04_data(base_date, ti, sgc, kt, krn, pan), hashlib.sha256).digest()
    return mac[:8][::-1]


# --- decoded token -------------------------------------------------------------
@dataclass
class Decoded:
    token: str
    crc_ok: bool
    fields: dict

    def lines(self) -> list[str]:
        return [f"{k:14s} {v}" for k, v in self.fields.items()]


def decode(token: str, key: bytes, base_date: int = 2014, currency_res: Decimal = Decimal("0.01")) -> Decoded:
    cls, block = block_from_token(token, key)
    sub = block >> 60
    f: dict = {"class": cls, "subclass": sub}
    crc_ok = block_crc(cls, block) == block & 0xFFFF
    if cls == 2 and sub == 3:
        f.update(kenho=(block >> 56) & 15, krn=(block >> 52) & 15, rollover=bool((block >> 51) & 1),
                 kt=(block >> 48) & 3, nkho="%08x" % ((block >> 16) & 0xFFFFFFFF))
    elif cls == 2 and sub == 4:
        f.update(kenlo=(block >> 56) & 15, ti=(block >> 48) & 0xFF, nklo="%08x" % ((block >> 16) & 0xFFFFFFFF))
    elif cls == 1:
        if sub == 0:
            f.update(control=(block >> 24) & (2**36 - 1), manufacturer_code=(block >> 16) & 0xFF)
        else:
            f.update(control=(block >> 32) & (2**28 - 1), manufacturer_code=(block >> 16) & 0xFFFF)
    else:
        tid = (block >> 32) & 0xFFFFFF
        raw = (block >> 16) & 0xFFFF
        f.update(rnd=(block >> 56) & 15, tid=tid, tid_time=time_of(tid, base_date).isoformat(), amount_raw=raw)
        if cls == 0:
            n = amount_value(raw)
            if sub == 0:
                f.update(value=n / 10, unit="kWh")  # energy: a JSON number
            elif sub >= 4:
                f.update(value="%.4f" % (n * currency_res), unit="currency")  # money: a decimal string
            else:
                f.update(value=n / 10, unit=CLASS0_UNITS[sub])
        elif cls == 2 and sub in (0, 6):
            f.update(value=amount_value(raw), unit="W" if sub == 0 else "%")
    f["crc_ok"] = crc_ok
    return Decoded(token, crc_ok, f)


# --- command line --------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, status 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _hex_key(text: str, n_bytes: int, what: str) -> bytes:
    if len(text) != 2 * n_bytes:
        raise UsageError(f"{what} '{text}': {len(text)} hex digits, need {2 * n_bytes}")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise UsageError(f"{what} '{text}': not hexadecimal") from None


def _int_in(value: int | None, lo: int, hi: int, what: str) -> int:
    if value is None:
        raise UsageError(f"{what} is required")
    if not lo <= value <= hi:
        raise UsageError(f"{what} {value} is outside {lo}..{hi}")
    return value


def _decimal(text: str, what: str) -> Decimal:
    try:
        d = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"{what} '{text}': not a number") from None
    if not d.is_finite() or d < 0:
        raise UsageError(f"{what} '{text}': must be a non-negative number")
    return d


def _units(amount: Decimal, resolution: Decimal, what: str) -> int:
    n = amount / resolution
    if n != n.to_integral_value():
        raise UsageError(f"{what} {amount} is not a whole number of {resolution} units")
    return int(n)


def cmd_decode(a: argparse.Namespace) -> int:
    key = _hex_key(a.key, 8, "--key")
    d = decode(a.token, key, a.base_date, _decimal(a.currency_res, "--currency-res"))
    print(json.dumps(d.fields) if a.json else "\n".join(d.lines()))
    return 0 if d.crc_ok else 1


def cmd_encode(a: argparse.Namespace) -> int:
    key = _hex_key(a.key, 8, "--key")
    cls = _int_in(a.cls, 0, 3, "--class")
    sub = _int_in(a.subclass, 0, 15, "--subclass")
    if a.date is not None:
        if a.tid is not None:
            raise UsageError("give --tid or --date, not both")
        try:
            when = dt.datetime.fromisoformat(a.date)
        except ValueError:
            raise UsageError(f"--date '{a.date}': not an ISO date-time like 2026-03-01T08:00") from None
        tid = tid_of(when, a.base_date)
    else:
        tid = _int_in(a.tid, 0, (1 << 24) - 1, "--tid")
    helpers = [x for x in (a.kwh, a.currency, a.watts) if x is not None]
    if len(helpers) + (a.amount_raw is not None) != 1:
        raise UsageError("give exactly one of --amount-raw, --kwh, --currency, --watts")
    if a.amount_raw is not None:
        raw = _int_in(a.amount_raw, 0, 0xFFFF, "--amount-raw")
    elif a.kwh is not None:
        raw = amount_raw_exact(_units(_decimal(a.kwh, "--kwh"), Decimal("0.1"), "--kwh"))
    elif a.currency is not None:
        res = _decimal(a.currency_res, "--currency-res")
        raw = amount_raw_exact(_units(_decimal(a.currency, "--currency"), res, "--currency"))
    else:
        raw = amount_raw_exact(_units(_decimal(a.watts, "--watts"), Decimal(1), "--watts"))
    rnd = secrets.randbelow(16) if a.rnd is None else _int_in(a.rnd, 0, 15, "--rnd")
    print(token_from_block(cls, make_block(cls, sub, rnd, tid, raw), key))
    return 0


def key_change_tokens(key: bytes, new_key: bytes, kt: int, krn: int, ti: int, ken: int, rollover: bool) -> tuple[str, str]:
    nk = key_int(new_key)
    hi, lo = nk >> 32, nk & 0xFFFFFFFF
    b1 = (3 << 60) | ((ken >> 4) << 56) | (krn << 52) | (int(rollover) << 51) | (kt << 48) | (hi << 16)
    b2 = (4 << 60) | ((ken & 15) << 56) | (ti << 48) | (lo << 16)
    return (token_from_block(2, b1 | block_crc(2, b1), key), token_from_block(2, b2 | block_crc(2, b2), key))


def cmd_keychange(a: argparse.Namespace) -> int:
    key = _hex_key(a.key, 8, "--key")
    new_key = _hex_key(a.new_key, 8, "--new-key")
    t1, t2 = key_change_tokens(key, new_key, _int_in(a.kt, 0, 3, "--kt"), _int_in(a.krn, 0, 15, "--krn"),
                               _int_in(a.ti, 0, 255, "--ti"), _int_in(a.ken, 0, 255, "--ken"), a.rollover)
    print(t1)
    print(t2)
    return 0


def cmd_decoder_key(a: argparse.Namespace) -> int:
    kt = _int_in(a.kt, 0, 3, "--kt")
    ti = _int_in(a.ti, 0, 99, "--ti")
    krn = _int_in(a.krn, 0, 15, "--krn")
    if len(a.sgc) != 6 or not a.sgc.isdigit() or not a.sgc.isascii():
        raise UsageError(f"--sgc '{a.sgc}': need 6 digits")
    check_pan(a.pan)
    if a.algorithm == "dkga02":
        key = dkga02(_hex_key(a.vending_key, 8, "--vending-key (DKGA02, DES)"), kt, a.sgc, ti, krn, a.pan)
    else:
        key = dkga04(_hex_key(a.vending_key, 20, "--vending-key (DKGA04, 160 bits)"), kt, a.sgc, ti, krn, a.pan,
                     a.base_date)
    print(key.hex())
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="python -m tools.sts", description="STS (IEC 62055-41) token vending and decoding tool.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    d = sub.add_parser("decode", help="decode a 20-digit token with a decoder key")
    d.add_argument("token")
    d.add_argument("--key", required=True, help="decoder key, 16 hex digits")
    d.add_argument("--json", action="store_true", help="one JSON object on stdout")
    d.add_argument("--base-date", type=int, choices=BASE_DATES, default=2014, help="for tid_time (default 2014)")
    d.add_argument("--currency-res", default="0.01", help="currency units per step of the amount (default 0.01)")
    d.set_defaults(fn=cmd_decode)

    e = sub.add_parser("encode", help="make a token from its fields")
    e.add_argument("--key", required=True, help="decoder key, 16 hex digits")
    e.add_argument("--class", dest="cls", type=int, default=0, help="token class 0..3 (default 0, credit)")
    e.add_argument("--subclass", type=int, default=0, help="0..15 (default 0: electricity / max power)")
    e.add_argument("--tid", type=int, help="token identifier, minutes since the base date")
    e.add_argument("--date", help="issue time (ISO, e.g. 2026-03-01T08:00) instead of --tid")
    e.add_argument("--base-date", type=int, choices=BASE_DATES, default=2014, help="for --date (default 2014)")
    e.add_argument("--amount-raw", type=int, help="the 16-bit amount field")
    e.add_argument("--kwh", help="electricity credit in kWh (multiple of 0.1)")
    e.add_argument("--currency", help="currency credit (multiple of --currency-res)")
    e.add_argument("--currency-res", default="0.01", help="currency resolution (default 0.01)")
    e.add_argument("--watts", help="maximum power limit in W (class 2 subclass 0)")
    e.add_argument("--rnd", type=int, help="4-bit random number (default: random)")
    e.set_defaults(fn=cmd_encode)

    k = sub.add_parser("keychange", help="the two key-change tokens (class 2, subclasses 3 and 4)")
    k.add_argument("--key", required=True, help="current decoder key, 16 hex digits")
    k.add_argument("--new-key", required=True, help="new decoder key, 16 hex digits")
    k.add_argument("--kt", type=int, default=2, help="new key type (default 2, unique)")
    k.add_argument("--krn", type=int, required=True, help="new key revision number 0..15")
    k.add_argument("--ti", type=int, required=True, help="new tariff index")
    k.add_argument("--ken", type=int, default=255, help="new key expiry number (255: never)")
    k.add_argument("--rollover", action="store_true", help="clear the meter's TID memory, next base date")
    k.set_defaults(fn=cmd_keychange)

    g = sub.add_parser("decoder-key", help="derive a meter's decoder key from the vending key")
    g.add_argument("--algorithm", required=True, choices=("dkga02", "dkga04"))
    g.add_argument("--vending-key", required=True, help="hex: 16 digits (dkga02) or 40 (dkga04)")
    g.add_argument("--kt", type=int, required=True, help="key type 0..3")
    g.add_argument("--sgc", required=True, help="supply group code, 6 digits")
    g.add_argument("--ti", type=int, required=True, help="tariff index 0..99")
    g.add_argument("--krn", type=int, required=True, help="key revision number 0..15")
    g.add_argument("--pan", required=True, help="meter PAN, 18 digits")
    g.add_argument("--base-date", type=int, choices=BASE_DATES, default=2014, help="dkga04 only (default 2014)")
    g.set_defaults(fn=cmd_decoder_key)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    try:
        return a.fn(a)
    except UsageError as e:
        print(f"{parser.prog} {a.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
