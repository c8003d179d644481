"""hesspec.Error: a failed library call (its hs_status and message) or a bad argument."""

# hs_status of include/hesspec.h (the values are stable)
OK, INVALID, IO, NOMEM, BACKEND, UNSUPPORTED, NUMERIC, INTERNAL, CANCELLED, OUTPUT = range(10)
STATUS_NAMES = {OK: "HS_OK", INVALID: "HS_E_INVALID", IO: "HS_E_IO", NOMEM: "HS_E_NOMEM",
                BACKEND: "HS_E_BACKEND", UNSUPPORTED: "HS_E_UNSUPPORTED", NUMERIC: "HS_E_NUMERIC",
                INTERNAL: "HS_E_INTERNAL", CANCELLED: "HS_E_CANCELLED", OUTPUT: "HS_E_OUTPUT"}


class Error(Exception):
    """A hesspec failure. `status` is the library's hs_status (an int; `status_name` its name,
    e.g. "HS_E_INVALID"), `message` the one-line message naming the file, field, value or
    argument at fault. Bad arguments found by the binding itself carry HS_E_INVALID."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = int(status)
        self.status_name = STATUS_NAMES.get(self.status, f"status {self.status}")
        self.message = message

    def __str__(self):
        return f"{self.message} [{self.status_name}]"


def invalid(message):
    return Error(INVALID, message)
