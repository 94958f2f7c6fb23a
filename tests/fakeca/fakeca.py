#!/usr/bin/env python3
"""fakeca.py - a scripted ACME (RFC 8555) server for the cases Pebble will not produce.

Usage:
  fakeca.py --port P --cert API-CERT.pem --key API-KEY.pem --mode MODE --workdir DIR
            [--host 127.0.0.1] [--days 90] [--huge-size BYTES]

Usually started through tests/lib/fakeca.sh (fakeca_start WORKDIR MODE).

It speaks enough ACME for a client to run a whole order: directory, newNonce,
newAccount, newOrder, authorizations, challenges, finalize, certificate, revokeCert
and keyChange. JWS signatures are NOT verified, but every POST must be a JWS in
flattened JSON form whose protected header carries a nonce this server issued (else
badNonce, as a real CA), the exact request URL, and either "jwk" (newAccount) or a
"kid" naming an account made here. Every response carries a fresh Replay-Nonce.
Authorizations are valid at once (except in mode "slow"); the CSR handed to finalize
must be correctly self-signed and name exactly the order's identifiers (else badCSR).

The server keeps a small CA of its own, made with openssl at start:
  DIR/ca/root.pem          trust anchor for the certificates issued here
  DIR/ca/intermediate.pem  issues the leaves; the chain served is leaf + intermediate
  DIR/ca/unrelated.pem     a CA that has nothing to do with the two above

Modes (what the certificate URL serves, unless said otherwise):
  good        correct leaf (CSR key, order names) + intermediate. A correct client
              accepts it: this mode proves the fake itself works.
  wrongkey    leaf for the order names but for a key the fake made, not the CSR key
  wrongnames  leaf for the CSR key whose only name (SAN and CN) is wrong.example.invalid
  expired     correct key and names, notAfter yesterday (notBefore 30 days ago)
  notyetvalid correct key and names, notBefore tomorrow
  badchain    correct leaf, but the second certificate is the unrelated CA
  badchain-samename
              correct leaf, second certificate has the intermediate's exact subject
              name but another key: the chain only links by name, not by signature
  garbage     the certificate URL returns non-PEM junk (still labelled
              application/pem-certificate-chain)
  problem     newOrder fails: 403 application/problem+json
              {"type": "urn:ietf:params:acme:error:rejectedIdentifier",
               "detail": "fake CA refuses NAME"}
  hugebody    the certificate URL streams --huge-size bytes (default 64 MiB) that start
              like PEM, with a matching Content-Length: the client must stop reading
  slow        authorizations start "pending" and stay so, with Retry-After: 1, for two
              polls after the client answers a challenge; finalize returns
              "processing" with Retry-After: 1 for two more polls. Then as "good".
              Non-wildcard authorizations offer http-01, dns-01 and tls-alpn-01.
  strayauthz  the order's first authorization is for unrequested.example.test, a name
              the client never asked for; it is "pending" (http-01, dns-01 and
              tls-alpn-01 offered) until its challenge is answered, then valid, and the
              order is then issued as in "good": a client must refuse it first
  straywildcard
              like strayauthz, but the first authorization names the order's first name
              with "wildcard": true, i.e. *.NAME, which was not asked for

ACME Renewal Information (RFC 9773), orthogonal to the mode:
  --ari WINDOW  what GET /renewal-info/CERTID answers; the file DIR/ari-window, when it
                exists, overrides it at every request (a test changes it between runs):
                  none      the directory has no renewalInfo (the default)
                  future    window now+30d .. now+31d
                  past      window now-2d .. now-1d (renew now)
                  now       window now-1h .. now+1h
                  inverted  a window whose end is before its start
                  badtime   start and end are not RFC 3339 times
                  notjson   a body that is not JSON
                  error     HTTP 500 with a serverInternal problem
                The windows carry explanationURL https://fakeca.invalid/ari/WINDOW. A certID
                this CA never issued gets 404. The certID of each certificate issued is
                computed here from the leaf (with python's cryptography, not the client's
                code) and written to DIR/certid-N for order N.
  --ari-retry-after S   Retry-After on renewalInfo answers (DIR/ari-retry-after overrides;
                "" or absent: none)
  newOrder "replaces": must name a certificate issued here to the same account and not
                replaced yet (else 409 alreadyReplaced or 400 malformed, as RFC 9773
                section 5 says); when DIR/reject-replaces exists every order that carries
                "replaces" is refused with 409 alreadyReplaced. The windows are anchored at
                the fake's start, or at DIR/ari-anchor (seconds since the epoch) when it
                exists, so that asking twice gives the same window. requests.log records the
                "replaces" each newOrder sent (null when none).
  --profiles A,B  meta.profiles offers these; an order naming another gets invalidProfile
  DIR/rate-limit  when it exists, newOrder fails with 429 rateLimited and Retry-After:
                its content (seconds)
  DIR/server-error  a number N: the next N POST requests fail with 503 serverInternal
                and Retry-After: 1 (N counts down in the file)
  DIR/key-change  "refuse": keyChange fails with 409 conflict; "lost": keyChange is
                taken but the connection is closed without an answer, and from then on
                the account object answers 401 unauthorized (as a real CA does to the
                old key)

Files written to DIR:
  requests.log     one JSON object per request: time, method, path, status, and the
                   decoded JWS protected header and payload
  csr-N.der/.pem   the CSR of order N as received at finalize
  cert-N.pem       what the certificate URL of order N serves (not for garbage/hugebody)
"""

import argparse
import base64
import binascii
import datetime
import http.server
import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import threading
import time

MODES = ("good", "wrongkey", "wrongnames", "expired", "notyetvalid", "badchain",
         "badchain-samename", "garbage", "problem", "hugebody", "slow", "strayauthz",
         "straywildcard")
STRAY = ("strayauthz", "straywildcard")
STRAY_NAME = "unrequested.example.test"

ERR = "urn:ietf:params:acme:error:"
# Names we are willing to write into an openssl config file: a DNS name, maybe a wildcard.
NAME_RE = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*"
                     r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
MAX_BODY = 1 << 20


class AcmeError(Exception):
    def __init__(self, status, kind, detail):
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


def b64url_decode(text):
    if not isinstance(text, str) or not re.fullmatch(r"[A-Za-z0-9_-]*", text):
        raise AcmeError(400, "malformed", "not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise AcmeError(400, "malformed", "bad base64url: %s" % exc) from exc


def utc(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def asn1_time(dt):
    # openssl ca -startdate/-enddate: GeneralizedTime works for any year.
    return dt.strftime("%Y%m%d%H%M%SZ")


def run_openssl(args, stdin=None):
    proc = subprocess.run(["openssl"] + args, input=stdin, capture_output=True,
                          check=False)
    if proc.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (args[0],
                           proc.stderr.decode(errors="replace").strip()))
    return proc.stdout


class FakeCA:
    """The CA keys and the issuing logic, all through the openssl command line."""

    def __init__(self, workdir, days):
        self.dir = os.path.join(workdir, "ca")
        self.days = days
        self.lock = threading.Lock()
        os.makedirs(os.path.join(self.dir, "newcerts"), exist_ok=True)
        self.path = lambda name: os.path.join(self.dir, name)
        self._make_ca()

    def _newkey(self, keyfile):
        run_openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                     "-out", keyfile])

    def _make_ca(self):
        p = self.path
        with open(p("ext.cnf"), "w", encoding="ascii") as f:
            f.write("[ca_ext]\n"
                    "basicConstraints = critical,CA:TRUE,pathlen:0\n"
                    "keyUsage = critical,keyCertSign,cRLSign\n"
                    "subjectKeyIdentifier = hash\n"
                    "authorityKeyIdentifier = keyid:always\n")
        tag = secrets.token_hex(3)
        for name, cn in (("root", "fakeca Root %s" % tag),
                         ("unrelated", "fakeca Unrelated Root %s" % tag)):
            self._newkey(p(name + ".key"))
            run_openssl(["req", "-x509", "-new", "-key", p(name + ".key"), "-days", "3650",
                         "-subj", "/CN=" + cn, "-out", p(name + ".pem"),
                         "-addext", "basicConstraints=critical,CA:TRUE",
                         "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
        inter_cn = "/CN=fakeca Intermediate %s" % tag
        # The real intermediate under root; its impostor (same name, other key) under
        # the unrelated root.
        for name, issuer in (("intermediate", "root"), ("impostor", "unrelated")):
            self._newkey(p(name + ".key"))
            run_openssl(["req", "-new", "-key", p(name + ".key"), "-subj", inter_cn,
                         "-out", p(name + ".csr")])
            run_openssl(["x509", "-req", "-in", p(name + ".csr"), "-CA", p(issuer + ".pem"),
                         "-CAkey", p(issuer + ".key"), "-set_serial",
                         "0x" + secrets.token_hex(8), "-days", "3650",
                         "-extfile", p("ext.cnf"), "-extensions", "ca_ext",
                         "-out", p(name + ".pem")])
        open(p("index.txt"), "w", encoding="ascii").close()
        with open(p("ca.cnf"), "w", encoding="ascii") as f:
            f.write("[ca]\ndefault_ca = fake\n"
                    "[fake]\n"
                    "database = %s\n"
                    "new_certs_dir = %s\n"
                    "default_md = sha256\n"
                    "policy = anything\n"
                    "unique_subject = no\n"
                    "copy_extensions = none\n"
                    "email_in_dn = no\n"
                    "rand_serial = yes\n"
                    "[anything]\ncommonName = optional\n" % (p("index.txt"), p("newcerts")))

    def read(self, name):
        with open(self.path(name), encoding="ascii") as f:
            return f.read()

    def csr_check(self, csr_der, order_names, stem):
        """Save the CSR, check its signature and that it names exactly order_names."""
        with open(stem + ".der", "wb") as f:
            f.write(csr_der)
        try:
            run_openssl(["req", "-inform", "DER", "-in", stem + ".der", "-out", stem + ".pem"])
            run_openssl(["req", "-in", stem + ".pem", "-noout", "-verify"])
            text = run_openssl(["req", "-in", stem + ".pem", "-noout", "-text"]).decode()
        except RuntimeError as exc:
            raise AcmeError(400, "badCSR", "CSR rejected: %s" % exc) from exc
        names = set()
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if "X509v3 Subject Alternative Name" in line and i + 1 < len(lines):
                for item in lines[i + 1].split(","):
                    item = item.strip()
                    if item.startswith("DNS:"):
                        names.add(item[4:].lower())
                    elif item:
                        raise AcmeError(400, "badCSR", "unexpected SAN entry %s" % item)
        m = re.search(r"Subject:.*CN\s*=\s*([^,/\n]+)", text)
        if m:
            names.add(m.group(1).strip().lower())
        want = {n.lower() for n in order_names}
        if names != want:
            raise AcmeError(400, "badCSR", "CSR names %s, order names %s"
                            % (sorted(names), sorted(want)))
        return stem + ".pem"

    def issue(self, mode, csr_pem, names, stem):
        """Return the PEM chain served for this order in this mode."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=self.days)
        if mode == "expired":
            start, end = now - datetime.timedelta(days=30), now - datetime.timedelta(days=1)
        elif mode == "notyetvalid":
            start, end = now + datetime.timedelta(days=1), now + datetime.timedelta(days=91)
        if mode == "wrongnames":
            names = ["wrong.example.invalid"]
        if mode == "wrongkey":
            self._newkey(stem + "-other.key")
            run_openssl(["req", "-new", "-key", stem + "-other.key", "-subj", "/CN=x",
                         "-out", stem + "-other.csr"])
            csr_pem = stem + "-other.csr"
        cn = next((n for n in names if len(n) <= 64), "fakeca leaf")
        with open(stem + "-ext.cnf", "w", encoding="ascii") as f:
            f.write("[leaf]\n"
                    "basicConstraints = critical,CA:FALSE\n"
                    "keyUsage = critical,digitalSignature,keyEncipherment\n"
                    "extendedKeyUsage = serverAuth,clientAuth\n"
                    "subjectKeyIdentifier = hash\n"
                    "authorityKeyIdentifier = keyid\n"
                    "subjectAltName = %s\n" % ",".join("DNS:" + n for n in names))
        with self.lock:  # openssl ca rewrites index.txt
            run_openssl(["ca", "-config", self.path("ca.cnf"), "-batch", "-notext",
                         "-in", csr_pem, "-out", stem + "-leaf.pem",
                         "-cert", self.path("intermediate.pem"),
                         "-keyfile", self.path("intermediate.key"),
                         "-subj", "/CN=" + cn,
                         "-startdate", asn1_time(start), "-enddate", asn1_time(end),
                         "-extfile", stem + "-ext.cnf", "-extensions", "leaf"])
        with open(stem + "-leaf.pem", encoding="ascii") as f:
            leaf = f.read()
        second = {"badchain": "unrelated.pem",
                  "badchain-samename": "impostor.pem"}.get(mode, "intermediate.pem")
        return leaf + self.read(second)


def cert_id(chain_pem):
    """RFC 9773 certID of the chain's leaf: base64url(AKI keyIdentifier) "." base64url(the
    DER INTEGER content octets of the serial)."""
    from cryptography import x509  # pylint: disable=import-outside-toplevel
    leaf = x509.load_pem_x509_certificate(chain_pem.encode())
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    serial = leaf.serial_number
    raw = serial.to_bytes((serial.bit_length() + 8) // 8, "big")  # room for a sign bit

    def enc(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    return enc(aki.key_identifier) + "." + enc(raw)


class State:
    def __init__(self, args):
        self.args = args
        self.mode = args.mode
        self.base = "https://%s:%d" % (args.host, args.port)
        self.lock = threading.Lock()
        self.nonces = set()
        self.accounts = {}      # canonical jwk -> account id
        self.rekeyed = set()    # accounts whose key change was taken, answer lost ("lost")
        self.orders = {}        # id -> dict
        self.next_id = 1
        self.ca = FakeCA(args.workdir, args.days)
        self.reqlog = open(os.path.join(args.workdir, "requests.log"), "a", encoding="utf-8")
        self.certs = {}         # certID -> {"acct": account, "replaced": bool}
        self.t0 = str(int(time.time()))

    def control(self, name, default):
        """A test's switch: the content of DIR/NAME when it exists, else DEFAULT."""
        try:
            with open(os.path.join(self.args.workdir, name), encoding="ascii") as f:
                return f.read().strip()
        except FileNotFoundError:
            return default

    def ari_window(self):
        return self.control("ari-window", self.args.ari)

    def new_nonce(self):
        n = secrets.token_urlsafe(16)
        with self.lock:
            self.nonces.add(n)
        return n

    def use_nonce(self, n):
        with self.lock:
            if n in self.nonces:
                self.nonces.discard(n)
                return True
            return False

    def new_id(self):
        with self.lock:
            i = self.next_id
            self.next_id += 1
            return i

    def log(self, entry):
        with self.lock:
            self.reqlog.write(json.dumps(entry, sort_keys=True) + "\n")
            self.reqlog.flush()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fakeca/1"
    st = None  # set in main

    # -- plumbing ---------------------------------------------------------------

    def log_message(self, fmt, *args):
        sys.stderr.write("fakeca %s %s\n" % (self.address_string(), fmt % args))

    def _send(self, status, body, ctype, extra=None):
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("Replay-Nonce", self.st.new_nonce())
        self.send_header("Link", '<%s/dir>;rel="index"' % self.st.base)
        self.send_header("Cache-Control", "no-store")
        if ctype:
            self.send_header("Content-Type", ctype)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.entry["status"] = status

    def _json(self, status, obj, extra=None):
        self._send(status, json.dumps(obj, indent=1) + "\n", "application/json", extra)

    def _problem(self, err):
        self._send(err.status, json.dumps({"type": ERR + err.kind, "detail": err.detail,
                                           "status": err.status}) + "\n",
                   "application/problem+json")

    def _dispatch(self, fn):
        self.entry = {"t": round(time.time(), 3), "method": self.command, "path": self.path}
        try:
            fn()
        except AcmeError as err:
            self._problem(err)
        except Exception as exc:  # noqa: BLE001 - a test server reports, never dies
            if "status" in self.entry:
                # The response had begun (hugebody): the client hung up mid-body.
                self.close_connection = True
                self.entry["aborted"] = repr(exc)
            else:
                sys.stderr.write("fakeca: internal error: %r\n" % exc)
                try:
                    self._problem(AcmeError(500, "serverInternal", str(exc)))
                except OSError:
                    self.close_connection = True
        self.st.log(self.entry)

    def do_GET(self):
        self._dispatch(self._get)

    def do_HEAD(self):
        self._dispatch(self._get)

    def do_POST(self):
        self._dispatch(self._post)

    def _get(self):
        if self.path == "/dir":
            b = self.st.base
            d = {"newNonce": b + "/nonce", "newAccount": b + "/new-account",
                 "newOrder": b + "/new-order", "revokeCert": b + "/revoke",
                 "keyChange": b + "/key-change",
                 "meta": {"termsOfService": b + "/terms",
                          "website": "https://fakeca.invalid/",
                          "caaIdentities": ["fakeca.invalid"],
                          "externalAccountRequired": False}}
            if self.st.ari_window() != "none":
                d["renewalInfo"] = b + "/renewal-info"
            if self.st.args.profiles:
                d["meta"]["profiles"] = {p: "fake profile %s" % p
                                         for p in self.st.args.profiles.split(",")}
            self._json(200, d)
        elif self.path.startswith("/renewal-info/"):
            self._renewal_info(self.path[len("/renewal-info/"):])
        elif self.path == "/nonce":
            self._send(200 if self.command == "HEAD" else 204, b"", None)
        elif self.path == "/terms":
            self._send(200, "Fake CA terms: none.\n", "text/plain")
        else:
            raise AcmeError(405 if self._known_path() else 404, "malformed",
                            "use POST-as-GET for %s" % self.path)

    def _renewal_info(self, certid):
        window = self.st.ari_window()
        self.entry["certid"] = certid
        if window == "none":
            raise AcmeError(404, "malformed", "no renewal information here")
        if certid not in self.st.certs:
            raise AcmeError(404, "malformed", "no certificate %s issued here" % certid)
        extra = {}
        ra = self.st.control("ari-retry-after", self.st.args.ari_retry_after)
        if ra:
            extra["Retry-After"] = ra
        # the windows are anchored, so that the same answer comes twice: at the start of
        # the fake, or at DIR/ari-anchor (seconds since the epoch: a test's clock)
        now = datetime.datetime.fromtimestamp(int(self.st.control("ari-anchor", self.st.t0)),
                                              datetime.timezone.utc)
        td = datetime.timedelta
        spans = {"future": (td(days=30), td(days=31)), "past": (td(days=-2), td(days=-1)),
                 "now": (td(hours=-1), td(hours=1)), "inverted": (td(days=31), td(days=30))}
        if window in spans:
            start, end = spans[window]
            body = {"suggestedWindow": {"start": utc(now + start), "end": utc(now + end)},
                    "explanationURL": "https://fakeca.invalid/ari/" + window}
            return self._json(200, body, extra)
        if window == "badtime":
            return self._json(200, {"suggestedWindow": {"start": "soon", "end": 1893456000}},
                              extra)
        if window == "notjson":
            return self._send(200, "<html>renewal later</html>", "application/json", extra)
        if window == "error":
            raise AcmeError(500, "serverInternal", "renewal information is down")
        raise AcmeError(500, "serverInternal", "fakeca: unknown ARI window %r" % window)

    def _known_path(self):
        return re.match(r"^/(acct|order|authz|chall|finalize|cert)/", self.path) is not None

    # -- JWS --------------------------------------------------------------------

    def _read_jws(self):
        ctype = self.headers.get("Content-Type", "")
        if ctype.split(";")[0].strip().lower() != "application/jose+json":
            self.entry["warning"] = "Content-Type %r" % ctype
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError as exc:
            self.close_connection = True  # the body cannot be skipped
            raise AcmeError(411, "malformed", "Content-Length required") from exc
        if length < 0 or length > MAX_BODY:
            self.close_connection = True
            raise AcmeError(413, "malformed", "body too large")
        raw = self.rfile.read(length)
        try:
            jws = json.loads(raw)
        except ValueError as exc:
            raise AcmeError(400, "malformed", "body is not JSON") from exc
        if not isinstance(jws, dict) or not {"protected", "payload", "signature"} <= set(jws):
            raise AcmeError(400, "malformed", "not a flattened JWS")
        try:
            prot = json.loads(b64url_decode(jws["protected"]))
        except ValueError as exc:
            raise AcmeError(400, "malformed", "protected header is not JSON") from exc
        if not isinstance(prot, dict):
            raise AcmeError(400, "malformed", "protected header is not an object")
        b64url_decode(jws["signature"])
        payload_raw = b64url_decode(jws["payload"])
        if payload_raw == b"":
            payload = None  # POST-as-GET
        else:
            try:
                payload = json.loads(payload_raw)
            except ValueError as exc:
                raise AcmeError(400, "malformed", "payload is not JSON") from exc
        self.entry["protected"] = prot
        self.entry["payload"] = payload
        for key in ("alg", "nonce", "url"):
            if key not in prot:
                raise AcmeError(400, "malformed", "protected header lacks %s" % key)
        if prot["alg"] not in ("ES256", "ES384", "ES512", "RS256", "PS256", "EdDSA"):
            raise AcmeError(400, "badSignatureAlgorithm", "alg %s" % prot["alg"])
        if prot["url"] != self.st.base + self.path:
            raise AcmeError(401, "unauthorized", "url %s is not %s"
                            % (prot["url"], self.st.base + self.path))
        if ("jwk" in prot) == ("kid" in prot):
            raise AcmeError(400, "malformed", "need exactly one of jwk and kid")
        if not self.st.use_nonce(prot["nonce"]):
            raise AcmeError(400, "badNonce", "nonce %s unknown or used" % prot["nonce"])
        return prot, payload

    def _account(self, prot):
        if "kid" not in prot:
            raise AcmeError(400, "malformed", "this request needs kid, not jwk")
        m = re.fullmatch(re.escape(self.st.base) + r"/acct/(\d+)", str(prot["kid"]))
        if not m or int(m.group(1)) not in self.st.accounts.values():
            raise AcmeError(400, "accountDoesNotExist", "no account %s" % prot["kid"])
        return int(m.group(1))

    # -- resources --------------------------------------------------------------

    def _post(self):
        prot, payload = self._read_jws()
        path = self.path
        fails = self.st.control("server-error", "")
        if fails.isdigit() and int(fails) > 0:
            with open(os.path.join(self.st.args.workdir, "server-error"), "w", encoding="ascii") as f:
                f.write(str(int(fails) - 1))
            self._send(503, json.dumps({"type": ERR + "serverInternal", "status": 503,
                                        "detail": "the fake CA is overloaded"}),
                       "application/problem+json", {"Retry-After": "1"})
            return
        if path == "/new-account":
            return self._new_account(prot, payload)
        acct = self._account(prot)
        m = re.fullmatch(r"/(acct|order|authz|chall|finalize|cert)/(\d+)(?:/(\d+))?", path)
        if path == "/new-order":
            return self._new_order(acct, payload)
        if path == "/key-change":
            how = self.st.control("key-change", "")
            if how == "refuse":
                raise AcmeError(409, "conflict", "the fake CA refuses this key change")
            if how == "lost":
                self.st.rekeyed.add(acct)
                self.entry["dropped"] = True
                self.close_connection = True
                return None
            return self._send(200, b"", None)
        if path == "/revoke":
            return self._send(200, b"", None)
        if not m:
            raise AcmeError(404, "malformed", "no such resource %s" % path)
        kind, num, sub = m.group(1), int(m.group(2)), m.group(3)
        if kind == "acct":
            if num != acct:
                raise AcmeError(403, "unauthorized", "not your account")
            if acct in self.st.rekeyed:
                raise AcmeError(401, "unauthorized", "this account has another key now")
            return self._json(200, {"status": "valid", "contact": [],
                                    "orders": self.st.base + "/acct/%d/orders" % num})
        order = self.st.orders.get(num)
        if order is None or order["acct"] != acct:
            raise AcmeError(404, "malformed", "no such order")
        if kind == "order" and sub is None:
            return self._order_poll(order)
        if kind in ("authz", "chall") and sub is not None and int(sub) < len(order["names"]):
            return (self._authz if kind == "authz" else self._chall)(order, int(sub))
        if kind == "finalize" and sub is None:
            return self._finalize(order, payload)
        if kind == "cert" and sub is None:
            return self._cert(order)
        raise AcmeError(404, "malformed", "no such resource %s" % path)

    def _new_account(self, prot, payload):
        if "jwk" not in prot:
            raise AcmeError(400, "malformed", "newAccount needs jwk")
        key = json.dumps(prot["jwk"], sort_keys=True)
        payload = payload or {}
        existing = self.st.accounts.get(key)
        if existing is None and payload.get("onlyReturnExisting"):
            raise AcmeError(400, "accountDoesNotExist", "no account for this key")
        if existing is None:
            existing = self.st.new_id()
            self.st.accounts[key] = existing
            status = 201
        else:
            status = 200
        url = self.st.base + "/acct/%d" % existing
        self._json(status, {"status": "valid", "contact": payload.get("contact", []),
                            "termsOfServiceAgreed": bool(payload.get("termsOfServiceAgreed")),
                            "orders": url + "/orders"}, {"Location": url})

    def _new_order(self, acct, payload):
        if not isinstance(payload, dict) or not isinstance(payload.get("identifiers"), list) \
                or not payload["identifiers"]:
            raise AcmeError(400, "malformed", "newOrder needs identifiers")
        names = []
        for ident in payload["identifiers"]:
            if not isinstance(ident, dict) or ident.get("type") != "dns":
                raise AcmeError(400, "unsupportedIdentifier", "only dns identifiers")
            value = str(ident.get("value", ""))
            if not NAME_RE.match(value.lower()) or len(value) > 253:
                raise AcmeError(400, "rejectedIdentifier", "bad name %r" % value)
            names.append(value)
        if self.st.mode == "problem":
            raise AcmeError(403, "rejectedIdentifier", "fake CA refuses %s" % names[0])
        limit = self.st.control("rate-limit", "")
        if limit:
            self._send(429, json.dumps({"type": ERR + "rateLimited", "status": 429,
                                        "detail": "too many new orders, retry later"}),
                       "application/problem+json", {"Retry-After": limit})
            return
        profile = payload.get("profile")
        offered = (self.st.args.profiles or "").split(",")
        if profile is not None and profile not in offered:
            raise AcmeError(400, "invalidProfile", "no profile %r here" % profile)
        replaces = payload.get("replaces")
        self.entry["replaces"] = replaces
        if replaces is not None:
            old = self.st.certs.get(replaces) if isinstance(replaces, str) else None
            if os.path.exists(os.path.join(self.st.args.workdir, "reject-replaces")):
                raise AcmeError(409, "alreadyReplaced", "%s was replaced already" % replaces)
            if old is None or old["acct"] != acct:
                raise AcmeError(400, "malformed", "replaces %r: no such certificate of yours"
                                % replaces)
            if old["replaced"]:
                raise AcmeError(409, "alreadyReplaced", "%s was replaced already" % replaces)
        num = self.st.new_id()
        expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=7)
        order = {"id": num, "acct": acct, "names": names, "expires": utc(expires),
                 "replaces": replaces,
                 "tokens": [secrets.token_urlsafe(32) for _ in names],
                 "answered": [False] * len(names), "authz_polls": [0] * len(names),
                 "order_polls": 0, "finalized": False, "chain": None}
        self.st.orders[num] = order
        obj = self._order_obj(order)
        obj["status"] = "pending"
        self._json(201, obj, {"Location": self.st.base + "/order/%d" % num})

    def _authz_valid(self, order, i):
        if self.st.mode in STRAY:
            return order["answered"][i]
        if self.st.mode != "slow":
            return True
        return order["answered"][i] and order["authz_polls"][i] > 2

    def _order_obj(self, order):
        b, num = self.st.base, order["id"]
        obj = {"status": "pending", "expires": order["expires"],
               "identifiers": [{"type": "dns", "value": n} for n in order["names"]],
               "authorizations": ["%s/authz/%d/%d" % (b, num, i)
                                  for i in range(len(order["names"]))],
               "finalize": "%s/finalize/%d" % (b, num)}
        if order["finalized"]:
            if self.st.mode == "slow" and order["order_polls"] < 2:
                obj["status"] = "processing"
            else:
                obj["status"] = "valid"
                obj["certificate"] = "%s/cert/%d" % (b, num)
        elif all(self._authz_valid(order, i) for i in range(len(order["names"]))):
            obj["status"] = "ready"
        return obj

    def _retry_after(self, obj):
        if self.st.mode == "slow" and obj["status"] in ("pending", "processing"):
            return {"Retry-After": "1"}
        return {}

    def _order_poll(self, order):
        obj = self._order_obj(order)
        if order["finalized"]:
            order["order_polls"] += 1
        self._json(200, obj, dict(self._retry_after(obj),
                                  Location=self.st.base + "/order/%d" % order["id"]))

    def _chall_objs(self, order, i):
        b, num = self.st.base, order["id"]
        valid = self._authz_valid(order, i)
        status = "valid" if valid else ("processing" if order["answered"][i] else "pending")
        wildcard = order["names"][i].startswith("*.")
        types = ["dns-01"] if wildcard else ["http-01"]
        if self.st.mode == "slow" and not wildcard:
            types += ["dns-01", "tls-alpn-01"]
        if self.st.mode in STRAY:
            types = ["http-01", "dns-01", "tls-alpn-01"]
        objs = []
        for t in types:
            c = {"type": t, "url": "%s/chall/%d/%d" % (b, num, i),
                 "token": order["tokens"][i], "status": status}
            if valid:
                c["validated"] = utc(datetime.datetime.now(datetime.timezone.utc))
            objs.append(c)
        return objs

    def _authz(self, order, i):
        name = order["names"][i]
        if order["answered"][i]:
            order["authz_polls"][i] += 1
        valid = self._authz_valid(order, i)
        obj = {"status": "valid" if valid else "pending", "expires": order["expires"],
               "identifier": {"type": "dns", "value": name[2:] if name.startswith("*.")
                              else name},
               "challenges": self._chall_objs(order, i)}
        if name.startswith("*."):
            obj["wildcard"] = True
        if i == 0 and self.st.mode == "strayauthz":
            obj["identifier"]["value"] = STRAY_NAME
        if i == 0 and self.st.mode == "straywildcard":
            obj["wildcard"] = True
        self._json(200, obj, self._retry_after(obj))

    def _chall(self, order, i):
        order["answered"][i] = True
        obj = self._chall_objs(order, i)[0]
        self._json(200, obj, {"Link": '<%s/authz/%d/%d>;rel="up"'
                                      % (self.st.base, order["id"], i)})

    def _finalize(self, order, payload):
        if order["finalized"]:
            raise AcmeError(403, "orderNotReady", "order already finalized")
        if not all(self._authz_valid(order, i) for i in range(len(order["names"]))):
            raise AcmeError(403, "orderNotReady", "authorizations are not valid yet")
        if not isinstance(payload, dict) or "csr" not in payload:
            raise AcmeError(400, "malformed", "finalize needs csr")
        der = b64url_decode(payload["csr"])
        stem = os.path.join(self.st.args.workdir, "csr-%d" % order["id"])
        csr_pem = self.st.ca.csr_check(der, order["names"], stem)
        certstem = os.path.join(self.st.args.workdir, "cert-%d" % order["id"])
        if self.st.mode not in ("garbage", "hugebody"):
            order["chain"] = self.st.ca.issue(self.st.mode, csr_pem, order["names"], certstem)
            with open(certstem + ".pem", "w", encoding="ascii") as f:
                f.write(order["chain"])
            certid = cert_id(order["chain"])
            with open(os.path.join(self.st.args.workdir, "certid-%d" % order["id"]), "w",
                      encoding="ascii") as f:
                f.write(certid + "\n")
            with self.st.lock:
                self.st.certs[certid] = {"acct": order["acct"], "replaced": False}
                if order["replaces"] in self.st.certs:
                    self.st.certs[order["replaces"]]["replaced"] = True
        order["finalized"] = True
        obj = self._order_obj(order)
        self._json(200, obj, dict(self._retry_after(obj),
                                  Location=self.st.base + "/order/%d" % order["id"]))

    def _cert(self, order):
        if not order["finalized"] or self._order_obj(order)["status"] != "valid":
            raise AcmeError(403, "orderNotReady", "no certificate yet")
        ctype = "application/pem-certificate-chain"
        if self.st.mode == "garbage":
            junk = b"<html><body>Service temporarily \x00\xff\xfe unavailable</body></html>\n"
            return self._send(200, junk + os.urandom(512), ctype)
        if self.st.mode == "hugebody":
            return self._huge(ctype)
        return self._send(200, order["chain"], ctype)

    def _huge(self, ctype):
        size = self.st.args.huge_size
        head = b"-----BEGIN CERTIFICATE-----\n"
        line = b"QUFB" * 16 + b"\n"
        self.send_response(200)
        self.send_header("Replay-Nonce", self.st.new_nonce())
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.entry["status"] = 200
        sent = 0
        block = head + line * ((1 << 16) // len(line))
        while sent < size:
            chunk = block[:size - sent]
            self.wfile.write(chunk)
            sent += len(chunk)
            block = line * ((1 << 16) // len(line))
        self.entry["sent"] = sent


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = False  # a taken port must fail, so that the caller retries
    ssl_ctx = None

    def finish_request(self, request, client_address):
        # TLS handshake in the worker thread: a stalled client cannot block accept().
        try:
            request.settimeout(30)
            tls = self.ssl_ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            sys.stderr.write("fakeca: TLS handshake with %s failed: %s\n"
                             % (client_address[0], exc))
            return
        try:
            super().finish_request(tls, client_address)
        finally:
            try:
                tls.close()
            except OSError:
                pass


def main():
    ap = argparse.ArgumentParser(description="scripted ACME server for tests")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--cert", required=True, help="TLS listener certificate (PEM)")
    ap.add_argument("--key", required=True, help="TLS listener private key (PEM)")
    ap.add_argument("--mode", choices=MODES, default="good")
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--days", type=int, default=90, help="lifetime of issued leaves")
    ap.add_argument("--huge-size", type=int, default=64 << 20,
                    help="bytes the hugebody certificate URL sends")
    ap.add_argument("--ari", default="none",
                    choices=("none", "future", "past", "now", "inverted", "badtime", "notjson",
                             "error"),
                    help="renewal information answers (DIR/ari-window overrides)")
    ap.add_argument("--ari-retry-after", default="",
                    help="Retry-After of renewal information answers")
    ap.add_argument("--profiles", default="", help="profiles offered, comma-separated")
    args = ap.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    state = State(args)
    Handler.st = state
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    try:
        srv = Server((args.host, args.port), Handler)
    except OSError as exc:
        sys.stderr.write("fakeca: cannot listen on %s:%d: %s\n" % (args.host, args.port, exc))
        return 2
    srv.ssl_ctx = ctx
    sys.stderr.write("fakeca: mode %s, directory %s/dir\n" % (args.mode, state.base))
    sys.stderr.flush()
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
