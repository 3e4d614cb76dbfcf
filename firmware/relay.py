"""The supply relay: drives the pin, never breaks above the safe-break current,
checks the feedback contact where the board has one.

Policy (when to open or close, and why) lives in prepay.py; this module only
executes it. request_open() while the current is above the contact rating's
safe-break limit waits (logged once, `relay_open_deferred`) until the current
drops, or opens anyway after the timeout (`relay_open_forced`): a welded
contact is worse than an arc. Events: `relay_open` / `relay_closed` with the
reason as detail (scenario.md's reasons), `relay_mismatch` when the feedback
contact disagrees with the coil.
"""
from ticks import ticks_diff

CREDIT_EXHAUSTED = "credit_exhausted"
CREDIT_RESTORED = "credit_restored"
BUTTON = "button"
POWER_LIMIT = "power_limit"
POWER_UP_RESTORE = "power_up_restore"
COMMAND = "command"
REASONS = (CREDIT_EXHAUSTED, CREDIT_RESTORED, BUTTON, POWER_LIMIT, POWER_UP_RESTORE, COMMAND)
_SOURCE = "relay"


class Relay:
    def __init__(self, pin, events, feedback=None, closed_level=1, feedback_closed_level=1):
        self.pin = pin
        self.events = events
        self.feedback = feedback
        self.closed_level = closed_level
        self.feedback_closed_level = feedback_closed_level
        self.closed = True
        self.reason = POWER_UP_RESTORE
        self.changed_ms = 0  # when it last changed (this boot)
        self.waiting = False  # an open is deferred by the safe-break rule
        self._wait_ms = 0
        self.mismatch = False
        self.operations = 0
        self._drive()

    def _drive(self):
        self.pin.value(self.closed_level if self.closed else 1 - self.closed_level)

    def close(self, reason, now_ms):
        self.waiting = False
        if self.closed:
            return
        self.closed = True
        self.reason = reason
        self.changed_ms = now_ms
        self.operations += 1
        self._drive()
        self.events.log("relay_closed", _SOURCE, reason)

    def request_open(self, reason, now_ms, current_over, timeout_ms):
        """Open now unless the current is above the safe-break limit; True once opened."""
        if not self.closed:
            return False
        if current_over:
            if not self.waiting:
                self.waiting = True
                self._wait_ms = now_ms
                self.events.log("relay_open_deferred", _SOURCE, reason)
                return False
            if ticks_diff(now_ms, self._wait_ms) < timeout_ms:
                return False
            self.events.log("relay_open_forced", _SOURCE, reason)
        self.waiting = False
        self.closed = False
        self.reason = reason
        self.changed_ms = now_ms
        self.operations += 1
        self._drive()
        self.events.log("relay_open", _SOURCE, reason)
        return True

    def cancel_open(self):
        self.waiting = False

    def set_reason(self, reason):
        """An open relay now stays open for another reason (logged)."""
        if reason != self.reason:
            self.reason = reason
            self.events.log("relay_open" if not self.closed else "relay_closed", _SOURCE, reason)

    def restore(self, closed, reason, now_ms):
        """Power-up: the persisted state, driven and logged as power_up_restore."""
        self.closed = closed
        self.reason = reason
        self.changed_ms = now_ms
        self.waiting = False
        self._drive()
        self.events.log("relay_closed" if closed else "relay_open", _SOURCE, POWER_UP_RESTORE)

    def check(self):
        """Compare the feedback contact with the coil; True while they agree."""
        fb = self.feedback
        if fb is None:
            return True
        ok = (fb.value() == self.feedback_closed_level) == self.closed
        if not ok and not self.mismatch:
            self.events.log("relay_mismatch", _SOURCE, 1 if self.closed else 0)
        self.mismatch = not ok
        return ok
