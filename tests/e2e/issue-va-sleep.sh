#!/bin/sh
# The whole issuance test with Pebble's random 0-15 s validation delays switched on:
# the client must poll (honouring Retry-After) until authorizations settle.
PEBBLE_VA_NOSLEEP='' exec "$(dirname "$0")/issue-pebble.sh"
