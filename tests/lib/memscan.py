#!/usr/bin/env python3
"""memscan.py - search running processes' memory for secrets (needs root).

Usage: memscan.py [--perm r|rw] PID... -- NEEDLE...
  --perm r    search every readable mapping (default rw: the writable ones, where
              a copy made at run time would be)
  NEEDLE      text:LABEL:STRING     the bytes of STRING
              b64url:LABEL:STRING   the bytes STRING decodes to (base64url)
              eckey:LABEL:PEMFILE   an EC private key: its private scalar (big- and
                                    little-endian, as a BIGNUM holds it), and the
                                    first 64 characters of the PEM's base64 body

Prints a line per copy found (pid, what, address, mapping) and, per process,
"pid P: N bytes of writable|readable memory searched". Exits 1 when anything was
found or nothing could be read, 0 otherwise.
"""
import base64
import re
import subprocess
import sys


def needles(specs):
    out = {}
    for spec in specs:
        kind, label, value = spec.split(":", 2)
        if kind == "text":
            out[label] = value.encode()
        elif kind == "b64url":
            out[label] = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        elif kind == "eckey":
            txt = subprocess.run(["openssl", "pkey", "-in", value, "-noout", "-text"],
                                 capture_output=True, text=True, check=True).stdout
            priv = re.search(r"priv:\s*\n((?:\s+[0-9a-f:]+\n)+)", txt)
            scalar = bytes.fromhex(re.sub(r"[^0-9a-f]", "", priv.group(1)))[-32:]
            out[label + " scalar"] = scalar
            # OpenSSL's BIGNUM keeps it in little-endian words: the bytes reversed
            out[label + " scalar (little-endian)"] = scalar[::-1]
            body = "".join(l for l in open(value).read().splitlines() if l and not l.startswith("-----"))
            out[label + " PEM"] = body[:64].encode()
        else:
            sys.exit("memscan: unknown needle kind %r" % kind)
    return out


def main(argv):
    perm = "rw"
    if len(argv) >= 2 and argv[0] == "--perm":
        perm, argv = argv[1], argv[2:]
    if "--" not in argv:
        sys.exit(__doc__)
    cut = argv.index("--")
    pids, want = argv[:cut], needles(argv[cut + 1:])
    found, empty = 0, False
    for pid in pids:
        scanned = 0
        with open("/proc/%s/maps" % pid) as maps, open("/proc/%s/mem" % pid, "rb", 0) as mem:
            for line in maps:
                f = line.split()
                lo, hi = (int(x, 16) for x in f[0].split("-"))
                if not f[1].startswith(perm) or hi - lo > 1 << 30 or "[vvar" in line or "[vsyscall]" in line:
                    continue
                try:
                    mem.seek(lo)
                    data = mem.read(hi - lo)
                except OSError:
                    continue  # a guard page
                scanned += len(data)
                for what, n in want.items():
                    at = data.find(n)
                    if at >= 0:
                        found += 1
                        print("pid %s: %s at %#x (%s)" % (pid, what, lo + at, " ".join(f[5:]) or "anon"))
        print("pid %s: %d bytes of %s memory searched" % (pid, scanned,
                                                         "writable" if perm == "rw" else "readable"))
        empty = empty or scanned == 0
    return 1 if found or empty or not pids else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
