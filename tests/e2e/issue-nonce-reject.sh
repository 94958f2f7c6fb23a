#!/bin/sh
# The whole issuance test with Pebble rejecting half of all good nonces as badNonce.
PEBBLE_WFE_NONCEREJECT=50 exec "$(dirname "$0")/issue-pebble.sh"
