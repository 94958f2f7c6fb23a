-- counts.lua - play Postfix and Sendmail against mailcert-milter (miltertest).
-- Every step must get CONTINUE, and each message ACCEPT: the filter never rejects.
-- The shell side (milter.sh) then checks the counts in milter.json.
local sock = os.getenv("MILTER_SOCK")

local function session(listener, addr, tls_at_first_helo, tls_version, cipher, if_addr)
    local conn = mt.connect(sock, 20, 0.2)
    if conn == nil then error("mt.connect(" .. sock .. ") failed") end
    if if_addr then
        mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", listener, "{if_addr}", if_addr,
                 "j", "mx.test")
    else
        mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", listener, "{daemon_addr}", addr,
                 "j", "mx.test", "_", "client.test [127.0.0.2]")
    end
    if mt.conninfo(conn, "client.test", "127.0.0.2") ~= nil then error("conninfo failed") end
    if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect: not CONTINUE") end
    if tls_version and tls_at_first_helo then
        mt.macro(conn, SMFIC_HELO, "{tls_version}", tls_version, "{cipher}", cipher,
                 "{cipher_bits}", "256")
    end
    if mt.helo(conn, "client.test") ~= nil then error("helo failed") end
    if mt.getreply(conn) ~= SMFIR_CONTINUE then error("helo: not CONTINUE") end
    if tls_version and not tls_at_first_helo then
        -- STARTTLS, then the second EHLO carries the TLS macros
        mt.macro(conn, SMFIC_HELO, "{tls_version}", tls_version, "{cipher}", cipher,
                 "{cipher_bits}", "256")
        if mt.helo(conn, "client.test") ~= nil then error("second helo failed") end
        if mt.getreply(conn) ~= SMFIR_CONTINUE then error("second helo: not CONTINUE") end
    end
    if mt.mailfrom(conn, "<sender@client.test>") ~= nil then error("mailfrom failed") end
    local r = mt.getreply(conn)
    if r ~= SMFIR_ACCEPT and r ~= SMFIR_CONTINUE then error("mailfrom: neither ACCEPT nor CONTINUE") end
    mt.disconnect(conn)
end

-- smtpd on 127.0.0.1: two STARTTLS sessions (1.3), one plain
session("smtpd", "127.0.0.1", false, "TLSv1.3", "TLS_AES_256_GCM_SHA384")
session("smtpd", "127.0.0.1", false, "TLSv1.3", "TLS_AES_256_GCM_SHA384")
session("smtpd", "127.0.0.1", false, nil, nil)
-- smtps (wrapper mode): TLS from the first HELO on, TLS 1.2
session("smtps", "127.0.0.1", true, "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")
-- Sendmail: {if_addr} instead of {daemon_addr}
session("MTA", nil, false, "TLSv1.3", "TLS_AES_128_GCM_SHA256", "192.0.2.25")
mt.echo("counts.lua: all sessions passed")
