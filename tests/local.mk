# tests/: unit tests (Check), end-to-end scripts against real Pebble/Postfix/Dovecot.
include tests/unit.mk
include tests/e2e.mk
include tests/plugin.mk
include tests/fuzz.mk
