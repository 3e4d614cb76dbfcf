"""Helpers for the token gateway tests: keys, a fake account, token making."""
import sts
import tokens as T

KEY_A = sts.key_from_hex("6ff35b9d1f3453e6")  # DKGA02 example key (TI 01)
KEY_A_TI2 = sts.key_from_hex("f1279ac543860b06")  # same meter, TI 02 (DKGA02, worked out by tools.sts)
KEY_OTHER = sts.key_from_hex("0123456789abcdef")


class FakeAccount:
    """What the gateway may ask of an account, with a balance in account units."""

    def __init__(self, mode="energy", max_balance=10_000_000):
        self.mode = mode
        self.max_balance = max_balance
        self.balance = 0
        self.credits = []  # (mode, amount, tid) per applied credit
        self.power_limit_w = None
        self.cleared = 0
        self.tamper_cleared = 0
        self.tests = []

    def can_credit(self, mode, amount):
        if mode != self.mode:
            return T.FUNCTION_NOT_SUPPORTED
        if self.balance + amount > self.max_balance:
            return T.OVERFLOW
        return None

    def apply_credit(self, mode, amount, tid):
        self.balance += amount
        self.credits.append((mode, amount, tid))

    def set_power_limit_w(self, w):
        self.power_limit_w = w

    def clear_credit(self):
        self.balance = 0
        self.cleared += 1

    def clear_tamper(self):
        self.tamper_cleared += 1

    def meter_test(self, subclass, control):
        self.tests.append((subclass, control))


def token(key, cls, sub, rnd, tid, raw):
    b = bytearray(8)
    sts.make_block(b, cls, sub, rnd, tid, raw)
    return sts.encode(cls, b, key)


def gateway(account=None, **kw):
    kw.setdefault("base_date", 1993)
    kw.setdefault("manufacture_tid", 1000)
    return T.TokenGateway(account or FakeAccount(), KEY_A, **kw)
