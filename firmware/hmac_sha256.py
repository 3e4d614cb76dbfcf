"""HMAC-SHA-256 (RFC 2104) for MicroPython, which has no hmac module and whose
hashlib.sha256 offers one digest() per object and no copy()."""
import hashlib


def hmac_sha256(key, msg):
    """HMAC-SHA-256 (RFC 2104) on hashlib.sha256 with one digest() per object,
    which is all MicroPython's hashlib offers."""
    if len(key) > 64:
        h = hashlib.sha256(key)
        key = h.digest()
    inner_pad = bytearray(64)
    outer_pad = bytearray(64)
    for i in range(64):
        k = key[i] if i < len(key) else 0
        inner_pad[i] = k ^ 0x36
        outer_pad[i] = k ^ 0x5C
    h = hashlib.sha256(inner_pad)
    h.update(msg)
    inner = h.digest()
    h = hashlib.sha256(outer_pad)
    h.update(inner)
    return h.digest()
