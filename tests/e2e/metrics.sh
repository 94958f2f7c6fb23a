#!/bin/bash
# STORE/run/mailcert.prom, the Prometheus textfile: written after every run, valid
# text format (HELP and TYPE before the samples of each metric, every sample line
# "name{labels} value"), its numbers those of `status --json`, a failing host counted,
# and label values from milter.json (not trusted) escaped. Against a real Pebble.
. "$(dirname "$0")/e2e.sh"
set -u
e2e_workdir
export PEBBLE_VA_NOSLEEP=1
pebble_start "$W/pebble"
conf=$W/mailcert.conf
e2e_config "$conf" "$PEBBLE_DIR_URL" "$PEBBLE_API_CA" "$PEBBLE_HTTP_PORT" ok.metrics.example.test bad.metrics.example.test
printf '#!/bin/sh\necho "no DNS API" >&2\nexit 1\n' > "$W/hook"; chmod 755 "$W/hook"
sed -i 's|^host "bad.metrics.example.test" {|host "bad.metrics.example.test" { challenge = "dns-01"|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$W/hook" >> "$conf"
prom=$W/store/run/mailcert.prom

"$MAILCERT" -c "$conf" issue > "$W/out1" 2>&1
[ -s "$prom" ] && pass "mailcert.prom written after the run" || fail "no $prom: $(tail -3 "$W/out1")"
expect_eq "$(stat -c %a "$prom")" 644 "mailcert.prom is 0644 (nothing secret in it)"
"$MAILCERT" -c "$conf" status --json > "$W/st.json"

# check PROM against STATUS: prints one line per problem, nothing when all is well
check_prom() {
    python3 - "$1" "$W/st.json" <<'EOP'
import datetime, json, re, sys
text = open(sys.argv[1]).read()
status = {h["host"]: h for h in json.load(open(sys.argv[2]))["hosts"]}
def ts(s): return int(datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())
sample = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*",?)*)\})? (-?[0-9.e+]+)$')
typed, samples = set(), {}
for n, line in enumerate(text.split("\n")[:-1], 1):
    if line.startswith("# HELP ") or line.startswith("# TYPE "):
        parts = line.split(" ", 3)
        if line.startswith("# TYPE "):
            if parts[3] not in ("gauge", "counter"): print("line %d: type %r" % (n, parts[3]))
            typed.add(parts[2])
        continue
    m = sample.match(line)
    if not m:
        print("line %d is not a sample: %r" % (n, line)); continue
    if m.group(1) not in typed:
        print("line %d: %s has no TYPE before it" % (n, m.group(1)))
    labels = dict(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
    samples.setdefault(m.group(1), []).append((labels, float(m.group(4))))
if not text.endswith("\n"): print("no newline at the end")
def get(name, host):
    v = [x for l, x in samples.get(name, []) if l.get("host") == host]
    return v[0] if v else None
ok = status["ok.metrics.example.test"]
if get("mailcert_certificate_expiry_timestamp_seconds", ok["host"]) != ts(ok["cert_expiration_time"]):
    print("expiry of ok: %r, status %s" % (get("mailcert_certificate_expiry_timestamp_seconds", ok["host"]), ok["cert_expiration_time"]))
if get("mailcert_last_success_timestamp_seconds", ok["host"]) != ts(ok["last_success_time"]):
    print("last success of ok differs")
if get("mailcert_host_in_error", ok["host"]) != 0: print("ok counted in error")
bad = status["bad.metrics.example.test"]
if get("mailcert_consecutive_failures", bad["host"]) != bad["consecutive_failures"] or bad["consecutive_failures"] < 1:
    print("failures of bad: %r, status %r" % (get("mailcert_consecutive_failures", bad["host"]), bad["consecutive_failures"]))
if get("mailcert_host_in_error", bad["host"]) != 1: print("bad not counted in error")
info = [l for l, x in samples.get("mailcert_certificate_info", []) if l.get("host") == ok["host"]]
if not info or info[0].get("serial") != ok["serial"] or info[0].get("source") != "acme":
    print("certificate_info of ok: %r" % info)
for name in ("mailcert_metrics_timestamp_seconds",):
    if name not in samples: print("no %s" % name)
for name, want in (("mailcert_smtp_tls_sessions_total", 'listener="smtpd/a\\"b\\\\c\\nd",version="TLSv1.3"'),):
    if want not in text and "--hostile" in sys.argv: print("escaped label not found: %s" % want)
EOP
}
problems=$(check_prom "$prom")
expect_eq "$problems" "" "mailcert.prom is valid text format and agrees with status"

# a milter.json whose listener names are hostile: escaped, the file stays valid
cat > "$W/store/run/milter.json" <<'EOJ'
{"version": 1, "pid": 1, "updated": "2026-01-01T00:00:00Z", "hosts": {},
 "listeners": {"smtpd/a\"b\\c\nd": {"sessions": 3, "tls_sessions": 2, "tls_versions": {"TLSv1.3": 2}},
               "x} 1\nmailcert_fake 9": {"sessions": 1}}}
EOJ
"$MAILCERT" -c "$conf" renew > "$W/out2" 2>&1
problems=$(check_prom "$prom")
expect_eq "$problems" "" "hostile listener names: still valid text format"
grep -q 'mailcert_smtp_tls_sessions_total{listener="smtpd/a\\"b\\\\c\\nd",version="TLSv1.3"} 2' "$prom" &&
    pass "a listener name with a quote, a backslash and a newline is escaped" ||
    fail "escaping: $(grep smtp_tls "$prom")"
grep -q '^mailcert_fake' "$prom" && fail "a listener name injected a sample" || pass "no sample injected through a listener name"
finish
