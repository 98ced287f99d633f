"""The demo API: a small Starlette app with deliberate faults, for `make demo` and tests."""
