"""Hypothesis: any sequence of vended, replayed, corrupted tokens, key changes,
power cycles and waits keeps the gateway's books exact (firmware tokens.py,
tokens made by the independent host encoder tools.sts)."""
import tokens as T
from hypothesis import given, settings
from hypothesis import strategies as st

from tools import sts as tool

KEY0 = bytes.fromhex("6ff35b9d1f3453e6")
RESULTS = {T.ACCEPTED, T.KC1_ACCEPTED, T.KC2_ACCEPTED, T.OLD, T.USED, T.KEY_EXPIRED, T.CRC, T.FORMAT, T.RANGE,
           T.OVERFLOW, T.FUNCTION_NOT_SUPPORTED, T.LOCKOUT, T.KEY_TYPE, T.MANUFACTURER_CODE}


class Account:
    def __init__(self, max_wh):
        self.max_wh = max_wh
        self.balance = 0
        self.credited_tids = []

    def can_credit(self, mode, amount):
        if mode != "energy":
            return T.FUNCTION_NOT_SUPPORTED
        return T.OVERFLOW if self.balance + amount > self.max_wh else None

    def apply_credit(self, mode, amount, tid):
        self.balance += amount
        self.credited_tids.append(tid)

    def set_power_limit_w(self, w):
        pass

    def clear_credit(self):
        raise AssertionError("no clear-credit token is vended here")

    def clear_tamper(self):
        pass

    def meter_test(self, subclass, control):
        pass


actions = st.lists(st.one_of(
    st.tuples(st.just("vend"), st.integers(-3, 40), st.one_of(st.integers(0, 500), st.integers(0, 0xFFFF)),
              st.sampled_from([0, 0, 0, 4, 1])),
    st.tuples(st.just("replay"), st.integers(0, 1000)),
    st.tuples(st.just("corrupt"), st.integers(0, 1000), st.integers(0, 19), st.integers(1, 9)),
    st.tuples(st.just("keychange"), st.binary(min_size=8, max_size=8), st.booleans()),
    st.tuples(st.just("power_cycle"),),
    st.tuples(st.just("wait"), st.integers(0, 200_000)),
), max_size=40)


@settings(max_examples=150, deadline=None)
@given(actions, st.integers(0, 2**24 - 1000), st.integers(0, 10**8))
def test_books_stay_exact_under_any_sequence(seq, start_tid, max_wh):
    acc = Account(max_wh)
    g = T.TokenGateway(acc, KEY0, base_date=2014, manufacture_tid=start_tid)
    key = KEY0
    now = 0
    tid = start_tid
    vended = []  # (token, amount in Wh if a credit else None)
    accepted = set()
    expected_balance = 0
    for act in seq:
        kind = act[0]
        before = acc.balance
        if kind == "vend":
            _, step, raw, sub = act
            tid = max(0, min(tid + step, 2**24 - 1))
            token = tool.token_from_block(0, tool.make_block(0, sub, 0, tid, raw), key)
            amount = tool.amount_value(raw) * 100 if sub == 0 else None  # 0.1 kWh -> Wh
            vended.append((token, amount))
            r = g.enter(token, now)
        elif kind in ("replay", "corrupt") and vended:
            token, amount = vended[act[1] % len(vended)]
            if kind == "corrupt":
                pos, bump = act[2], act[3]
                token = token[:pos] + str((int(token[pos]) + bump) % 10) + token[pos + 1:]
            r = g.enter(token, now)
            assert r != T.ACCEPTED or (kind == "replay" and token not in accepted), (kind, r)
        elif kind == "keychange":
            new_key, rollover = act[1], act[2]
            t1, t2 = tool.key_change_tokens(key, new_key, 2, 1, 1, 255, rollover)
            r1, r2 = g.enter(t1, now), g.enter(t2, now)
            if r2 == T.ACCEPTED:
                key = new_key
                if rollover:
                    # a roll-over clears the TID memory by design (sts.md): a
                    # token vended before it under the same key is fresh again,
                    # which is why vending never keeps a key across a roll-over
                    tid = 0
                    accepted = set()
            r = r2
            assert r1 in RESULTS
        elif kind == "power_cycle":
            record = g.state_bytes()
            g = T.TokenGateway(acc, bytes(8), base_date=1993)
            g.load_state(record)
            continue
        elif kind == "wait":
            now = (now + act[1]) & ((1 << 30) - 1)  # device ticks wrap
            continue
        else:
            continue
        assert r in RESULTS
        if kind != "keychange" and r == T.ACCEPTED:
            assert amount is not None and expected_balance + amount <= max_wh
            expected_balance += amount
            accepted.add(token)
        else:
            assert acc.balance == before, (kind, r)  # a rejected token changes nothing
        assert acc.balance == expected_balance
    # every credit came from a distinct TID, never twice
    assert len(acc.credited_tids) == len(set(acc.credited_tids)) or any(a[0] == "keychange" and a[2] for a in seq)
    assert acc.balance == expected_balance <= max(max_wh, 0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5000), min_size=1, max_size=30), st.integers(0, 15))
def test_fresh_tokens_in_increasing_tid_order_are_all_accepted_once(steps, rnd):
    acc = Account(10**9)
    g = T.TokenGateway(acc, KEY0, base_date=2014, manufacture_tid=1000)
    tid = 1000
    tokens_ = []
    for s in steps:
        tid += s
        tokens_.append(tool.token_from_block(0, tool.make_block(0, 0, rnd, tid, 7), KEY0))
    for k, t in enumerate(tokens_):
        assert g.enter(t, k) == T.ACCEPTED
    assert acc.balance == 700 * len(steps)
    for k, t in enumerate(tokens_):  # every one again: used or old, never credited
        r = g.enter(t, 10**6 + k * 1000_000)
        assert r in (T.USED, T.OLD, T.LOCKOUT)
    assert acc.balance == 700 * len(steps)
