"""parse_config: the [prepay] keys into integers, and one clear line per bad
value: 'prepay: <key>: <reason>'."""
import prepay
import prepaycfg
from fwtest import raises

SCENARIO = {"mode": "currency", "balance": "100.0000", "alarm1": "20.0000", "alarm2": "5.0000",
            "emergency_limit": "10.0000", "emergency": "auto", "reconnect_threshold": "2.0000",
            "reconnect": "button", "friendly_hours": ["18:00-08:00"], "friendly_weekends": False,
            "friendly_special_days": True, "max_balance": "99999.0000",
            "decoder_key": "6ff35b9d1f3453e6", "sts_base_date": 2014}


def test_the_scenario_example_parses_to_integers():
    c = prepay.parse_config(SCENARIO)
    assert (c.balance_e4, c.alarm1_e4, c.alarm2_e4) == (1000000, 200000, 50000)
    assert (c.emergency_limit_e4, c.reconnect_threshold_e4, c.max_balance_e4) == (100000, 20000, 999990000)
    assert c.friendly_starts == [18 * 3600] and c.friendly_ends == [8 * 3600]
    assert c.currency_res_e4 == 100 and c.safe_break_ma == 30000


def test_decimals():
    for text, e4 in (("1", 10000), ("1.5", 15000), ("0.0001", 1), ("-2.25", -22500),
                     ("100000.0000", 1000000000), ("-100000", -1000000000), ("007.1000", 71000)):
        assert prepaycfg.decimal_e4(text, "k") == e4, text


def err(obj, special=None):
    return str(raises(prepay.PrepayError, prepay.parse_config, obj, special))


def test_errors_name_the_key_and_the_reason():
    cases = (
        ({"balance": "1.23456"}, "prepay: balance: '1.23456' has more than 4 decimal places"),
        ({"balance": "1,5"}, "prepay: balance: '1,5' is not a decimal number"),
        ({"balance": 5}, "prepay: balance: expected a decimal string"),
        ({"max_balance": "100000.0001"}, "prepay: max_balance: '100000.0001' is beyond +-100000.0000"),
        ({"mode": "water"}, "prepay: mode: 'water' is neither 'currency' nor 'energy'"),
        ({"reconnect": "manual"}, "prepay: reconnect: 'manual' is neither"),
        ({"colour": "red"}, "prepay: colour: unknown key"),
        ({"friendly_hours": ["18:00-8:00"]}, "prepay: friendly_hours[0]: '18:00-8:00' is not"),
        ({"friendly_hours": ["25:00-08:00"]}, "prepay: friendly_hours[0]: '25:00' is not a time of day"),
        ({"friendly_hours": ["08:00-08:00"]}, "prepay: friendly_hours[0]: '08:00-08:00' is empty"),
        ({"friendly_weekends": "yes"}, "prepay: friendly_weekends: expected true or false"),
        ({"alarm1": "4.0000"}, "prepay: alarm1: must be at least alarm2"),
        ({"emergency_limit": "-1"}, "prepay: emergency_limit: must not be negative"),
        ({"balance": "100000"}, "prepay: balance: 100000 is above max_balance"),
        ({"decoder_key": "6ff35b9d1f3453e"}, "prepay: decoder_key: expected 16 hex digits"),
        ({"sts_base_date": 2000}, "prepay: sts_base_date: 2000 is not 1993, 2014 or 2035"),
        ({"power_limit_w": -1}, "prepay: power_limit_w: -1 is outside 0..100000"),
        ({"power_window_s": True}, "prepay: power_window_s: expected an integer"),
    )
    for obj, want in cases:
        got = err(obj)
        assert got.startswith(want), (got, want)
        assert "\n" not in got
    assert err({}, ["2026-02-30"]).startswith("prepay: special_days[0]: '2026-02-30' is not MM-DD")


def test_special_days_callable_is_used_as_is():
    c = prepay.parse_config({"friendly_special_days": True}, lambda day: day == 7)
    assert c.special_fn(7) and not c.special_fn(8)
