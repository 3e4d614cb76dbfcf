"""The tariff.md example tariff, shared by the tariff tests of both lanes."""


def zhejiang():
    """tariff.md's example object."""
    return {
        "currency": "CNY",
        "rates": {"1": "0.9000", "2": "0.7000", "3": "0.5000", "4": "0.3000"},
        "days": {
            "workday": [["00:00", 4], ["08:00", 3], ["10:00", 2], ["15:00", 3], ["18:00", 1], ["21:00", 3],
                        ["23:00", 4]],
            "restday": [["00:00", 4], ["08:00", 3], ["23:00", 4]],
        },
        "weeks": {"std": ["workday", "workday", "workday", "workday", "workday", "restday", "restday"]},
        "seasons": [["01-01", "std"]],
        "special_days": [["10-01", "restday"], ["2027-02-06", "restday"]],
        "steps": {"period": "year", "settle": "01-01 00:00",
                  "thresholds_kwh": ["2760", "4800"], "surcharges": ["0.0000", "0.0500", "0.3000"]},
        "billing_days": [1],
    }
