"""Host stand-in for the `esp32` module (never deployed)."""


class NVS:
    def __init__(self, namespace):
        self.namespace = namespace
        self._data = {}

    def set_i32(self, key, value):
        self._data[key] = int(value)

    def get_i32(self, key):
        if key not in self._data:
            raise OSError(2, "ENOENT")
        return self._data[key]

    def commit(self):
        pass


def raw_temperature():
    return 120
