"""STS (IEC 62055-41) 20-digit tokens: parse, transpose, EA07 cipher, CRC, amounts.

Pure decoding, no meter rules (those are in tokens.py). Everything works on
8-byte blocks, little-endian (byte j holds bits 8j..8j+7 of the 64-bit value),
so a 32-bit MicroPython never makes a big integer: the 20 decimal digits are
folded into five 16-bit limbs four digits at a time, the cipher permutes bits
between bytes, and no value above 2**30 is formed. Decoding a token given as
bytes/bytearray allocates nothing; a str costs one encode() of 20 bytes.

A decoder key is 8 bytes in the order the key is written in hex
("6ff35b9d1f3453e6" -> b"\\x6f\\xf3..."), i.e. the key integer K read
little-endian, as sts.md defines it.
"""
from micropython import const

FORMAT = "format"  # not 20 digits, or above 2**66 - 1
CRC = "crc"  # wrong key, typo, or a token for another meter
OK = "ok"

_BUFFERS = (bytes, bytearray, memoryview)  # made once: a tuple literal in decode() would allocate
_BLOCK_BYTES = const(8)
_ROUNDS = const(16)
_LIMBS = const(5)  # 5 x 16 bits hold any 20-digit number (< 2**67)

_S1 = b"\x0e\x0a\x07\x09\x0c\x03\x02\x05\x0d\x00\x0f\x01\x04\x08\x06\x0b"
_S2 = b"\x0c\x08\x02\x0d\x07\x06\x01\x03\x0b\x05\x09\x0f\x00\x04\x0a\x0e"
_S1_INV = b"\x09\x0b\x06\x05\x0c\x07\x0e\x02\x0d\x03\x01\x0f\x04\x08\x00\x0a"
_S2_INV = b"\x0c\x06\x02\x07\x0d\x09\x05\x04\x01\x0a\x0e\x08\x00\x03\x0f\x0b"
# Output bit _P[i] = input bit i (encryption direction).
_P = bytes((55, 42, 10, 18, 24, 21, 44, 35, 2, 22, 56, 43, 27, 58, 9, 50,
            6, 36, 12, 61, 37, 38, 53, 16, 62, 3, 7, 4, 32, 20, 63, 25,
            51, 52, 54, 33, 49, 19, 46, 29, 48, 31, 23, 30, 41, 28, 13, 5,
            40, 60, 39, 11, 15, 17, 1, 0, 57, 34, 59, 8, 47, 14, 45, 26))

# Amount field: value = m * 10**e + _AMOUNT_BASE[e] (value in tenths of kWh
# for electricity, whole watts for power limits).
_AMOUNT_BASE = (0, 16384, 180224, 1818624)
_POW10 = (1, 10, 100, 1000)
AMOUNT_MAX = const(18201624)  # e = 3, m = 16383


def amount_value(raw):
    """The 16-bit amount field as an integer count of the unit (<= 18 201 624)."""
    e = (raw >> 14) & 3
    return (raw & 0x3FFF) * _POW10[e] + _AMOUNT_BASE[e]


def amount_raw(value):
    """The amount field that carries exactly `value`, or -1 if none does."""
    if value < 0 or value > AMOUNT_MAX:
        return -1
    for e in range(4):
        m = value - _AMOUNT_BASE[e]
        if 0 <= m and m % _POW10[e] == 0 and m // _POW10[e] < 16384:
            return (e << 14) | (m // _POW10[e])
    return -1


def crc16(data, n):
    """CRC-16/MODBUS (reflected 0xA001, init 0xFFFF) of data[0:n]."""
    c = 0xFFFF
    for i in range(n):
        c ^= data[i]
        for _ in range(8):
            if c & 1:
                c = (c >> 1) ^ 0xA001
            else:
                c >>= 1
    return c


def _rotr1(k):
    carry = k[0] & 1
    for j in range(7):
        k[j] = (k[j] >> 1) | ((k[j + 1] & 1) << 7)
    k[7] = (k[7] >> 1) | (carry << 7)


def _rotl1(k):
    carry = k[7] >> 7
    for j in range(7, 0, -1):
        k[j] = ((k[j] << 1) & 0xFF) | (k[j - 1] >> 7)
    k[0] = ((k[0] << 1) & 0xFF) | carry


def decrypt_block(block, key, k, tmp):
    """EA07 decrypt `block` (8 bytes, in place) with `key`; k, tmp: 8-byte scratch."""
    for j in range(_BLOCK_BYTES):
        k[j] = key[j]
    for _ in range(_ROUNDS):
        # inverse permutation: output bit i = input bit _P[i]
        for j in range(_BLOCK_BYTES):
            tmp[j] = 0
        for i in range(64):
            p = _P[i]
            if (block[p >> 3] >> (p & 7)) & 1:
                tmp[i >> 3] |= 1 << (i & 7)
        # inverse substitution, S-box chosen by bit 4i of k
        for j in range(_BLOCK_BYTES):
            v = tmp[j]
            kb = k[j]
            lo = _S1_INV[v & 15] if kb & 1 else _S2_INV[v & 15]
            hi = _S1_INV[v >> 4] if kb & 0x10 else _S2_INV[v >> 4]
            block[j] = (hi << 4) | lo
        _rotr1(k)


def encrypt_block(block, key, k, tmp):
    """EA07 encrypt `block` (8 bytes, in place) with `key`; k, tmp: 8-byte scratch."""
    for j in range(_BLOCK_BYTES):
        k[j] = key[j] ^ 0xFF
    for _ in range(12):
        _rotr1(k)
    for _ in range(_ROUNDS):
        # substitution, S2 where bit 4i+3 of k is set
        for j in range(_BLOCK_BYTES):
            v = block[j]
            kb = k[j]
            lo = _S2[v & 15] if kb & 0x08 else _S1[v & 15]
            hi = _S2[v >> 4] if kb & 0x80 else _S1[v >> 4]
            tmp[j] = (hi << 4) | lo
        for j in range(_BLOCK_BYTES):
            block[j] = 0
        for i in range(64):
            if (tmp[i >> 3] >> (i & 7)) & 1:
                p = _P[i]
                block[p >> 3] |= 1 << (p & 7)
        _rotl1(k)


class Decoder:
    """Decodes one token at a time into preallocated fields.

    After decode() returned OK: cls, subclass, rnd (bits 59..56), tid (bits
    55..32), amount_raw (bits 31..16) and block (the plain 64-bit block, 8
    bytes little-endian) hold the token. crc_ok is False after a CRC result.
    """

    def __init__(self):
        self.block = bytearray(_BLOCK_BYTES)
        self._k = bytearray(_BLOCK_BYTES)
        self._tmp = bytearray(_BLOCK_BYTES)
        self._crc_in = bytearray(7)
        self._limbs = [0] * _LIMBS
        self.cls = 0
        self.subclass = 0
        self.rnd = 0
        self.tid = 0
        self.amount_raw = 0
        self.crc_ok = False

    def _parse(self, digits):
        """20 ASCII digits -> ciphertext in self.block and the class; False if not a token."""
        if len(digits) != 20:
            return False
        t = self._limbs
        for j in range(_LIMBS):
            t[j] = 0
        for g in range(0, 20, 4):
            v = 0
            for i in range(g, g + 4):
                d = digits[i] - 48
                if d < 0 or d > 9:
                    return False
                v = v * 10 + d
            carry = v  # t = t * 10000 + v, limb by limb (each step < 2**30)
            for j in range(_LIMBS):
                x = t[j] * 10000 + carry
                t[j] = x & 0xFFFF
                carry = x >> 16
        if t[4] > 3:  # above 2**66 - 1
            return False
        b = self.block
        for j in range(_BLOCK_BYTES):
            b[j] = (t[j >> 1] >> ((j & 1) << 3)) & 0xFF
        b3 = b[3]  # bits 24..31: class sits in bits 28 (high) and 27 (low)
        self.cls = (((b3 >> 4) & 1) << 1) | ((b3 >> 3) & 1)
        b[3] = (b3 & 0xE7) | ((t[4] & 2) << 3) | ((t[4] & 1) << 3)
        return True

    def decode(self, token, key):
        """token: 20 digits (str, bytes or bytearray); key: 8-byte decoder key.
        Returns OK, FORMAT or CRC. Class 1 tokens are not encrypted."""
        if isinstance(token, str):
            token = token.encode()
        self.crc_ok = False
        if not isinstance(token, _BUFFERS) or not self._parse(token):
            return FORMAT
        b = self.block
        if self.cls != 1:
            decrypt_block(b, key, self._k, self._tmp)
        c = self._crc_in
        c[0] = self.cls
        for j in range(6):
            c[1 + j] = b[7 - j]
        crc = crc16(c, 7)
        self.subclass = b[7] >> 4
        self.rnd = b[7] & 15
        self.tid = (b[6] << 16) | (b[5] << 8) | b[4]
        self.amount_raw = (b[3] << 8) | b[2]
        if b[1] != (crc & 0xFF) or b[0] != (crc >> 8):  # stored byte-swapped
            return CRC
        self.crc_ok = True
        return OK


def make_block(block, cls, subclass, rnd, tid, amount_raw):
    """Fill block (8 bytes) with a standard data block and its CRC."""
    block[7] = ((subclass & 15) << 4) | (rnd & 15)
    block[6] = (tid >> 16) & 0xFF
    block[5] = (tid >> 8) & 0xFF
    block[4] = tid & 0xFF
    block[3] = (amount_raw >> 8) & 0xFF
    block[2] = amount_raw & 0xFF
    set_crc(block, cls)


def set_crc(block, cls):
    """Write the CRC of (class, block bits 63..16) into block bits 15..0."""
    c = bytearray(7)
    c[0] = cls
    for j in range(6):
        c[1 + j] = block[7 - j]
    crc = crc16(c, 7)
    block[1] = crc & 0xFF
    block[0] = crc >> 8


def encode(cls, block, key):
    """The 20-digit token (str) for a plain block of class cls (block is not changed).

    Not on the meter's hot path (tests, and a vending unit if one ever runs
    this firmware): it builds the decimal string by long division on limbs.
    """
    c = bytearray(block)
    if cls != 1:
        encrypt_block(c, key, bytearray(8), bytearray(8))
    hi = ((c[3] >> 4) & 1) << 1 | ((c[3] >> 3) & 1)  # bits 65, 64
    c[3] = (c[3] & 0xE7) | ((cls & 2) << 3) | ((cls & 1) << 3)
    t = [0] * _LIMBS
    for j in range(_BLOCK_BYTES):
        t[j >> 1] |= c[j] << ((j & 1) << 3)
    t[4] = hi
    groups = []
    for _ in range(5):  # divide by 10000, five times: four digits each
        rem = 0
        for j in range(_LIMBS - 1, -1, -1):
            x = (rem << 16) | t[j]
            t[j] = x // 10000
            rem = x % 10000
        groups.append("%04d" % rem)
    groups.reverse()
    return "".join(groups)


def key_from_hex(text):
    """8-byte key from 16 hex digits; ValueError with a one-line reason."""
    if len(text) != 16:
        raise ValueError("key: %d hex digits, need 16" % len(text))
    out = bytearray(8)
    for j in range(8):
        hi = _hexval(text[2 * j])
        lo = _hexval(text[2 * j + 1])
        if hi < 0 or lo < 0:
            raise ValueError("key: '%s' is not hexadecimal" % text)
        out[j] = (hi << 4) | lo
    return bytes(out)


def _hexval(ch):
    o = ord(ch)
    if 48 <= o <= 57:
        return o - 48
    o |= 0x20
    if 97 <= o <= 102:
        return o - 87
    return -1
