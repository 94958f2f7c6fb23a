-- manynames.lua - made-up listener, TLS version and cipher names, thousands of
-- them (any local user who reaches the socket can send these).  The shell side
-- (milter-bounds.sh) checks that milter.json stays small and the counts add up.
--   MILTER_SOCK  the milter's socket
--   NAMES        how many sessions with a listener name of their own
--   CIPHERS      how many sessions on one listener with a cipher of their own
local sock = os.getenv("MILTER_SOCK")

local function session(listener, tls_version, cipher)
    local conn = mt.connect(sock, 20, 0.2)
    if conn == nil then error("mt.connect(" .. sock .. ") failed") end
    mt.macro(conn, SMFIC_CONNECT, "{daemon_name}", listener, "{daemon_addr}", "127.0.0.1")
    if mt.conninfo(conn, "client.test", "127.0.0.2") ~= nil then error("conninfo failed") end
    if mt.getreply(conn) ~= SMFIR_CONTINUE then error("connect: not CONTINUE") end
    mt.macro(conn, SMFIC_HELO, "{tls_version}", tls_version, "{cipher}", cipher)
    if mt.helo(conn, "client.test") ~= nil then error("helo failed") end
    if mt.getreply(conn) ~= SMFIR_CONTINUE then error("helo: not CONTINUE") end
    mt.disconnect(conn)
end

-- one real listener first, with ever new ciphers and versions
for i = 1, tonumber(os.getenv("CIPHERS")) do
    session("smtpd", "TLSv1." .. i, "CIPHER-" .. i)
end
-- then a new listener (with a new version and cipher) for every session
for i = 1, tonumber(os.getenv("NAMES")) do
    session("listener-" .. i .. "-" .. string.rep("x", 100), "TLS-" .. i, "C-" .. i)
end
mt.echo("manynames.lua: all sessions passed")
