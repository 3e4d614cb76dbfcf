"""Random 20-digit strings through the firmware's token gateway: none may credit.

A 20-digit string is a token number with probability 2**66 / 10**20 (74 %), and
a token number passes the 16-bit CRC with probability 2**-16, so about one
string in 89 000 authenticates by chance (the CRC is STS's only check); the
gateway's TID, class and mode rules then stand between it and the balance.
`make bench` runs 100 000 (random_tokens_* keys); the tests run 2 000.

    python -m tools.sts_fuzz [-n 100000] [--seed 1]
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _sub in ("firmware", "host_sim/fakes"):
    if str(ROOT / _sub) not in sys.path:
        sys.path.insert(0, str(ROOT / _sub))

import sts  # noqa: E402  (firmware)
import tokens  # noqa: E402  (firmware)

KEY = bytes.fromhex("6ff35b9d1f3453e6")


class _AnyAccount:
    """Accepts any credit in any mode: the most permissive account there is."""

    def __init__(self) -> None:
        self.balance = 0
        self.credits = 0
        self.changes = 0

    def can_credit(self, mode: str, amount: int) -> None:
        return None

    def apply_credit(self, mode: str, amount: int, tid: int) -> None:
        self.balance += amount
        self.credits += 1
        self.changes += 1

    def set_power_limit_w(self, w: int) -> None:
        self.changes += 1

    def clear_credit(self) -> None:
        self.changes += 1

    def clear_tamper(self) -> None:
        self.changes += 1

    def meter_test(self, subclass: int, control: int) -> None:
        pass


def random_tokens(n: int, rng: random.Random) -> dict:
    acc = _AnyAccount()
    # manufactured in 2026 on the 2014 base date, KEN 255, no lockout: nothing but
    # the token itself stands in the way
    gw = tokens.TokenGateway(acc, KEY, base_date=2014, manufacture_tid=6_500_000, lockout_after=1 << 29)
    results: dict[str, int] = {}
    authenticated = 0
    for _ in range(n):
        digits = b"%020d" % rng.randrange(10**20)
        r = gw.enter(digits, 0)
        results[r] = results.get(r, 0) + 1
        if gw.decoder.crc_ok:
            authenticated += 1
    return {"tried": n, "crc_passed": authenticated, "credited": acc.credits,
            "balance_changed": acc.balance, "management_applied": acc.changes - acc.credits,
            "results": dict(sorted(results.items()))}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.sts_fuzz", description=(__doc__ or "").split("\n")[0])
    p.add_argument("-n", type=int, default=100_000, help="how many random strings (default 100000)")
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args(argv)
    r = random_tokens(a.n, random.Random(a.seed))
    print(json.dumps(r))
    return 0 if r["credited"] == 0 and r["balance_changed"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
