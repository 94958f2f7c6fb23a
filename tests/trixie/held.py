#!/usr/bin/env python3
"""held.py PREFIX IMAPS_PORT POP3S_PORT SMTP_PORT - hold a logged-in IMAP session
(implicit TLS), a logged-in POP3 session (implicit TLS) and an SMTP session after
STARTTLS, all on 127.0.0.1; touch PREFIX.ready, wait for PREFIX.go, then send NOOP
on each.  Exit 0 when every session still answers; PREFIX.log says what happened.
Certificates are not verified here: what is tested is that the session survives."""
import imaplib
import os
import poplib
import smtplib
import ssl
import sys
import time

prefix = sys.argv[1]
imap_port, pop3_port, smtp_port = (int(a) for a in sys.argv[2:5])
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
log = open(prefix + ".log", "a")


def say(msg):
    log.write(msg + "\n")
    log.flush()


def main():
    imap = imaplib.IMAP4_SSL("127.0.0.1", imap_port, ssl_context=ctx)
    imap.login("trial", "trialpass")
    imap.select("INBOX")
    pop = poplib.POP3_SSL("127.0.0.1", pop3_port, context=ctx)
    pop.user("trial")
    pop.pass_("trialpass")
    smtp = smtplib.SMTP("127.0.0.1", smtp_port, timeout=30)
    smtp.ehlo("trial.example.test")
    smtp.starttls(context=ctx)
    smtp.ehlo("trial.example.test")
    say("held: imap logged in, pop3 logged in, smtp after STARTTLS")
    open(prefix + ".ready", "w").close()
    deadline = time.time() + 600
    while not os.path.exists(prefix + ".go"):
        if time.time() > deadline:
            say("no go within 600 s")
            return 1
        time.sleep(0.2)
    bad = 0
    for name, call in (("imap", lambda: imap.noop()[0] == "OK"),
                       ("pop3", lambda: pop.noop().startswith(b"+OK")),
                       ("smtp", lambda: smtp.noop()[0] == 250)):
        try:
            good = call()
        except Exception as e:  # a dropped session raises: that is the failure
            say("%s: %r" % (name, e))
            good = False
        say("%s after the renewal: %s" % (name, "answers" if good else "FAILED"))
        bad += 0 if good else 1
    say("held sessions: %d of 3 answer" % (3 - bad))
    return 1 if bad else 0


try:
    sys.exit(main())
except Exception as e:
    say("error: %r" % (e,))
    sys.exit(1)
