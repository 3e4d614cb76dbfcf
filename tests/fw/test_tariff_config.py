"""Tariff validation on both interpreters: every message names the key and the reason
(the console shows the same text)."""
import tariffcfg as tariff
from fwtest import raises
from tariff_fixtures import zhejiang


def test_invalid_tariffs_say_which_key_and_why():
    cases = (
        (("days", "workday", 1, 1), 5, "days.workday[1]: rate 5 outside 1..4"),
        (("days", "workday", 2, 0), "07:00", "days.workday[2]: switch point 07:00 is before the previous one"),
        (("days", "workday", 2, 0), "08:00", "days.workday[2]: duplicate switch point 08:00"),
        (("weeks", "std", 3), "holiday", "weeks.std[3]: unknown day name \"holiday\""),
        (("rates", "2"), "-0.1000", "rates.2: price -0.1000 is negative"),
        (("rates", "2"), "0.12345", "rates.2: price 0.12345 has more than 4 decimals"),
        (("rates", "2"), 0.5, "rates.2: price must be a decimal string"),
        (("steps", "thresholds_kwh", 1), "2000", "steps.thresholds_kwh[1]: threshold 2000 is not above the previous"),
        (("special_days", 1, 0), "2027-02-30", "special_days[1]: date 2027-02-30 does not exist"),
        (("seasons", 0, 0), "13-01", "seasons[0]: date 13-01 does not exist"),
    )
    for path, value, expect in cases:
        obj = zhejiang()
        node = obj
        for k in path[:-1]:
            node = node[k]
        node[path[-1]] = value
        e = raises(tariff.TariffError, tariff.parse, obj)
        assert str(e).startswith("tariff: " + expect), (str(e), expect)
    obj = zhejiang()
    obj["steps"]["surcharges"] = ["0", "0.1"]
    assert str(raises(tariff.TariffError, tariff.parse, obj)) == \
        "tariff: steps.surcharges: needs 3 surcharges (thresholds + 1), has 2"
    obj = zhejiang()
    obj["rates"]["5"] = "0.1"
    assert str(raises(tariff.TariffError, tariff.parse, obj)) == "tariff: rates.5: rate 5 outside 1..4"
    obj = zhejiang()
    obj["colour"] = "red"
    assert str(raises(tariff.TariffError, tariff.parse, obj)).startswith("tariff: colour: unknown key")
