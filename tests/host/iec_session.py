"""Sessions of the independent IEC 62056-21 client (`iec62056-21`, pwitab 0.0.2)
on a meter's pty, shared by the pty tests. The P2 reply is computed here with
the standard library's hmac, independently of the firmware's HMAC."""
from __future__ import annotations

import hashlib
import hmac

from iec62056_21 import client as iec_client
from iec62056_21 import constants, messages

Client = iec_client.Iec6205621Client


def connect(path: str, timeout_s: float | None = None) -> Client:
    c = Client.with_serial_transport(port=path)
    if timeout_s is not None:
        c.transport.timeout = timeout_s
    c.connect()
    return c


def programming(path: str, timeout_s: float | None = None) -> tuple[Client, str]:
    """Sign on and enter programming mode: (client, the meter's P0 challenge)."""
    c = connect(path, timeout_s)
    p0 = c.access_programming_mode()
    assert p0.command == "P" and p0.command_type == 0
    return c, p0.data_set.value


def p2(c: Client, challenge: str, key: bytes) -> str:
    """Answer the challenge with HMAC-SHA-256(key, challenge), 16 hex digits; the meter's reply byte."""
    reply = hmac.new(key, challenge.encode(), hashlib.sha256).hexdigest()[:16]
    msg = messages.CommandMessage(command="P", command_type=2, data_set=messages.DataSet(address="", value=reply))
    c.transport.send(msg.to_bytes())
    return c.transport.recv(1).decode(constants.ENCODING)


def close(c: Client) -> None:
    c.send_break()
    c.disconnect()
