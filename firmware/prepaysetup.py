"""Builds the prepaid side from `prepay.json` and the saved registers.

Without `prepay.json` the meter is postpaid: no account, no relay policy, no
tokens (the relay pin is left as it is). With it: the account, the relay,
buzzer and button on the board's pins (hardware.build_prepay_pins), the
prepay service, and the STS token gateway with the decoder key of the config
(a key-change token later replaces it; the key then lives in the saved
token state, which wins over the config).
"""
import binascii
import json

import account as acc
import buzzer as bz
import prepay as pp
import relay as rl
from button import Button
from tokens import TokenGateway

PREPAY_FILE = "prepay.json"
_SOURCE = "prepay"


def read_config(special_days=None, path=PREPAY_FILE):
    """prepaycfg.Config, or None when the file is absent; PrepayError if invalid."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return parse_text(text, special_days)


def parse_text(text, special_days=None):
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise pp.PrepayError("prepay: (json): not valid JSON (%s)" % e)
    return pp.parse_config(obj, special_days)


def build(app, cfg, meter, saved, now_ms):
    """(PrepayService, TokenGateway or None), restored from `saved`."""
    num, den = meter.metrology.cal.lsb_per_kwh()
    account = acc.Account(cfg, app.events, num, den)
    relay_pin, buzzer_pin, button_pin, feedback = app.hw.build_prepay_pins()
    relay = rl.Relay(relay_pin, app.events, feedback)
    svc = pp.PrepayService(app.clock, app.events, account, relay, bz.Buzzer(buzzer_pin),
                           Button(button_pin), lambda: meter.metrology)
    tokens = None
    if cfg.decoder_key:
        tokens = TokenGateway(account, binascii.unhexlify(cfg.decoder_key), base_date=cfg.sts_base_date,
                              currency_res_e4=cfg.currency_res_e4)
    if saved is not None and saved.prepay:
        try:
            svc.load_state(saved.prepay, now_ms)
        except ValueError as e:
            app.events.log("prepay_state_rejected", _SOURCE, str(e))
    if tokens is not None and saved is not None and saved.tokens:
        try:
            tokens.load_state(saved.tokens)
        except ValueError as e:
            app.events.log("token_state_rejected", _SOURCE, str(e))
    return svc, tokens
