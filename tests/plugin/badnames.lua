-- badnames.lua - listener, TLS version and cipher names that are not valid UTF-8
-- (or are cut inside a UTF-8 character where the milter truncates a listener
-- name at 255 bytes).  Every step must get CONTINUE, each message ACCEPT; the
-- shell side (milter-badnames.sh) checks milter.json and valgrind's verdict.
local sock = os.getenv("MILTER_SOCK")

local function session(listener, addr, tls_version, cipher)
    local conn = mt.connect(sock, 20, 0.2)
    if conn == nil then error("mt.connect(" .. sock .. ") failed") end
    mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", listener, "{daemon_addr}", addr,
             "j", "mx.test", "_", "client.test [127.0.0.2]")
    if mt.conninfo(conn, "client.test", "127.0.0.2") ~= nil then error("conninfo failed") end
    if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect: not CONTINUE") end
    if tls_version then
        mt.macro(conn, SMFIC_HELO, "{tls_version}", tls_version, "{cipher}", cipher,
                 "{cipher_bits}", "256")
    end
    if mt.helo(conn, "client.test") ~= nil then error("helo failed") end
    if mt.getreply(conn) ~= SMFIR_CONTINUE then error("helo: not CONTINUE") end
    if mt.mailfrom(conn, "<sender@client.test>") ~= nil then error("mailfrom failed") end
    local r = mt.getreply(conn)
    if r ~= SMFIR_ACCEPT and r ~= SMFIR_CONTINUE then error("mailfrom: neither ACCEPT nor CONTINUE") end
    mt.disconnect(conn)
end

-- invalid bytes, an overlong '/', a lone continuation byte, a surrogate
session("bad\255\254name", "127.0.0.1", "TLSv1.3", "TLS_AES_256_GCM_SHA384")
session("over\192\175long", "127.0.0.1", "TLSv1.3\255", "CIPHER\237\160\128")
session("\128lone", "127.0.0.1\255", nil, nil)
-- "name/addr" is cut at 255 bytes: 254 'a' and the first byte of an e-acute
session(string.rep("a", 254) .. "\195\169", "127.0.0.1", "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")
-- ... and the same once more, now that a broken key may be in the table
session(string.rep("a", 254) .. "\195\169", "127.0.0.1", "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")
-- cut where the milter keeps at most 64 bytes of a name: inside the e-acute again
session(string.rep("b", 63) .. "\195\169", "127.0.0.1", "TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384")
-- a good name after all of them is still counted
session("smtpd", "127.0.0.1", "TLSv1.3", "TLS_AES_256_GCM_SHA384")
mt.echo("badnames.lua: all sessions passed")
