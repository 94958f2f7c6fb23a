#!/usr/bin/env python3
"""hostile-filter.py - plays a compromised mailcert-milter filter process.

mailcert-milter (built with test hooks) runs it instead of its own filter when
MAILCERT_TEST_FILTER names it; it writes to the loader's report pipe, fd 3.
HOSTILE_MODE:
  junk   every kind of bad report, a few good ones, then waits
  hold   closes the pipe and keeps running (and ignores SIGTERM)
  flood  writes reports without end, ignoring SIGTERM
It ends when the loader's end of the pipe is gone.
"""
import os
import select
import signal
import sys
import time

FD = 3


def send(data):
    try:
        os.write(FD, data)
    except OSError:
        sys.exit(0)  # the loader is gone


def wait_for_loader_end(fd=FD):
    """sleep until the loader closes its end of the pipe (or a day passes)"""
    p = select.poll()
    p.register(fd, 0)
    p.poll(86400 * 1000)


def junk():
    send(b"R\n")
    # first the good ones: later listeners only count under "other"
    for _ in range(3):
        send(b"S\tgood/127.0.0.1\n")
    send(b"T\tgood/127.0.0.1\tTLSv1.3\tTLS_AES_256_GCM_SHA384\n")
    bad = [
        b"X\tunknown type\n",
        b"SS\tlong/type\n",
        b"S\n",                                # no field
        b"S\ta/1\textra\n",                     # too many fields
        b"T\tl/1\tTLSv1.3\n",                   # too few
        b"T\tl/1\tTLSv1.3\tC\tD\tE\n",          # too many
        b"L\t99999999999999999999\n",
        b"L\tabc\n",
        b"\n",
        b"\t\t\t\n",
        b"S\t" + b"x" * 100000 + b"\n",        # far over the line limit
        b"S\t\xff\xfe\xc0\xafbad\x01\x7f/\xed\xa0\x80\n",  # not UTF-8, controls
        b"S\tnul\x00inside/1\n",
        b"T\tnul/1\t\x00\t\x00\n",              # empty version: not TLS
        b"S\t" + "é".encode() * 200 + b"\n",   # long, cut inside a character
    ]
    for b in bad:
        send(b)
    # far more listeners, versions and ciphers than are counted by name
    for i in range(3000):
        send(b"S\tmade-up-%d/127.0.0.1\n" % i)
        send(b"T\tmade-up-%d/127.0.0.1\tV%d\tC%d\n" % (i, i, i))
    send(b"DONE")  # no newline: never a report, and not taken for one
    wait_for_loader_end()


def hold():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.close(FD)
    time.sleep(86400)


def flood():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    send(b"R\n")
    chunk = b"".join(b"S\tflood-%d/127.0.0.1\n" % i for i in range(1000))
    while True:
        send(chunk)


{"junk": junk, "hold": hold, "flood": flood}[os.environ.get("HOSTILE_MODE", "junk")]()
