#!/bin/bash
# bench/http01-idle.sh [IDLE] [ROUNDS] - latency of the built-in http-01 responder
# while one client holds IDLE (default 600) idle connections to it: the time from
# connect to a complete answer for a GET of /.well-known/acme-challenge/TOKEN,
# ROUNDS (default 20) times.  The responder is mailcert's own, started by a real
# `mailcert issue` against the scripted fake CA (mode "slow"); a dns-01 host's hook
# keeps the run open while measuring.  Before the fix this was ~10-11 s per GET
# (every GET waited for an idle connection's deadline); now it is milliseconds.
# Run as root from the build directory (or set MAILCERT).
TOP_SRCDIR=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
MAILCERT=${MAILCERT:-$PWD/helpers/mailcert}
. "$TOP_SRCDIR/tests/e2e/e2e.sh"
. "$TOP_SRCDIR/tests/lib/fakeca.sh"
IDLE=${1:-600}
ROUNDS=${2:-20}
e2e_workdir
conf=$W/mailcert.conf
hport=$(freeport)
hook=$W/hook.sh
cat > "$hook" <<EOH
#!/bin/sh
[ "\$1" = add ] || exit 0
echo add >> "$W/hook.log"
i=0
while [ ! -e "$W/go" ] && [ \$i -lt 3000 ]; do sleep 0.1; i=\$((i + 1)); done
exit 0
EOH
chmod 755 "$hook"
fakeca_start "$W/fake" slow >/dev/null
e2e_config "$conf" "$FAKECA_DIR_URL" "$FAKECA_API_CA" "$hport" web.example.test dns.example.test
sed -i 's|^host "dns.example.test" { names = {  } self_check = false }|host "dns.example.test" { challenge = "dns-01" self_check = false }|' "$conf"
printf 'dns01 { hook = "%s" }\n' "$hook" >> "$conf"
timeout 600 "$MAILCERT" -c "$conf" issue > "$W/out" 2>&1 &
tpid=$!
on_exit "touch '$W/go'; kill -TERM -- -$tpid 2>/dev/null"
until grep -q add "$W/hook.log" 2>/dev/null; do
    kill -0 "$tpid" 2>/dev/null || die "mailcert ended early: $(cat "$W/out")"
    sleep 0.1
done
python3 - "$hport" "$IDLE" "$ROUNDS" <<'EOP'
import resource, socket, statistics, sys, time
port, idle, rounds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < idle + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, idle + 64), hard))
held = []
for _ in range(idle):
    s = socket.socket()
    s.settimeout(30)
    s.connect(("127.0.0.1", port))
    held.append(s)
req = b"GET /.well-known/acme-challenge/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n\r\n"
lat = []
for _ in range(rounds):
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(req)
    ans = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        ans += b
    s.close()
    lat.append((time.monotonic() - t0) * 1000)
    assert ans.startswith(b"HTTP/1.1 "), ans[:40]
print("http-01 GET latency with %d idle connections held: median %.1f ms, max %.1f ms (%d GETs)"
      % (idle, statistics.median(lat), max(lat), rounds))
EOP
touch "$W/go"
wait "$tpid" 2>/dev/null
