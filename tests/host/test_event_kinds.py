"""Every event kind the firmware logs has a code in the flash event log.

persist.StorageService moves RAM events to flashring.EventLog; a kind with no
code stays in RAM only and is lost at the next power cut. The kinds are read
from the firmware's source (every literal first argument of a `.log(` call,
and the token gateway's own kinds), independently of flashring's table.
"""
from __future__ import annotations

import re
from pathlib import Path

import flashring

FIRMWARE = Path(__file__).resolve().parents[2] / "firmware"
_LOG_CALL = re.compile(r"\.log\(\s*\"([a-z0-9_]+)\"")
_CHOICE = re.compile(r"\.log\(\s*\"([a-z0-9_]+)\"\s+if\s+[^\"]+else\s+\"([a-z0-9_]+)\"")


def logged_kinds() -> set[str]:
    kinds: set[str] = set()
    for path in FIRMWARE.glob("*.py"):
        text = path.read_text()
        kinds.update(_LOG_CALL.findall(text))
        for a, b in _CHOICE.findall(text):
            kinds.update((a, b))
    kinds.update(("token_accepted", "token_rejected"))  # tokens.py's own list, relayed by app.enter_token
    return kinds


def test_the_scan_finds_the_kinds_it_should():
    kinds = logged_kinds()
    assert {"boot", "fault", "clock_lost", "clock_unset", "relay_open", "credit"} <= kinds


def test_every_logged_kind_has_a_flash_code():
    missing = sorted(k for k in logged_kinds() if k not in flashring.EVENT_KINDS)
    assert missing == []


def test_codes_are_unique_and_round_trip():
    assert len(set(flashring.EVENT_KINDS)) == len(flashring.EVENT_KINDS)
    for k in flashring.EVENT_KINDS:
        assert flashring.event_kind(flashring.event_code(k)) == k
    assert len(flashring.EVENT_KINDS) < 1 << 15  # the code is a u16 on flash
