"""Host stand-in for MicroPython's `micropython` module (never deployed).

On the unix port the real module wins over this file, which is what we want.
"""


def const(value):
    return value


def heap_lock():
    return 0


def heap_unlock():
    return 0


def kbd_intr(char):
    pass


def mem_info(*args):
    pass


def schedule(fn, arg):
    """The host has no interrupt context: run the callback at once."""
    fn(arg)
    return True
