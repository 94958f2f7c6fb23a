#!/usr/bin/env python3
"""Hold an SMTP (STARTTLS) session and a logged-in IMAPS session open across a
certificate change: open both, touch READY, wait for the file CHANGED to exist,
wait HOLD seconds more, then send NOOP on both.  Exit 0 if both answer OK.

usage: sessions.py SMTP_PORT IMAPS_PORT READY CHANGED HOLD
"""
import imaplib
import os
import smtplib
import ssl
import sys
import time


def main():
    smtp_port, imaps_port = int(sys.argv[1]), int(sys.argv[2])
    ready, changed, hold = sys.argv[3], sys.argv[4], float(sys.argv[5])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    smtp = smtplib.SMTP("127.0.0.1", smtp_port, timeout=60)
    smtp.ehlo("sessions.test")
    smtp.starttls(context=ctx)
    smtp.ehlo("sessions.test")
    imap = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx, timeout=60)
    imap.login("user", "pass")
    open(ready, "w").close()
    deadline = time.time() + 120
    while not os.path.exists(changed):
        if time.time() > deadline:
            print("sessions.py: no change signalled")
            return 1
        time.sleep(0.1)
    time.sleep(hold)
    ok = True
    try:
        code, msg = smtp.noop()
        print("smtp NOOP after %.0fs: %d %s" % (hold, code, msg.decode()))
        ok = ok and code == 250
    except Exception as e:  # the session was dropped
        print("smtp NOOP failed: %r" % e)
        ok = False
    try:
        typ, data = imap.noop()
        print("imap NOOP after %.0fs: %s %s" % (hold, typ, data))
        ok = ok and typ == "OK"
    except Exception as e:
        print("imap NOOP failed: %r" % e)
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
