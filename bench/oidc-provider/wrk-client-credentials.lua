-- wrk script: POST grant_type=client_credentials with HTTP Basic, as the
-- Skybridge bench does. Counts non-200 responses (wrk itself only reports
-- statuses outside 2xx/3xx).
--   wrk -t2 -c16 -d15s --latency -s wrk-client-credentials.lua http://127.0.0.1:4100/token
-- CLIENT_ID / CLIENT_SECRET are read from the environment (defaults below).

local function b64(s)
  local chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  return ((s:gsub('.', function(x)
    local r, b = '', x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and '1' or '0') end
    return r
  end) .. '0000'):gsub('%d%d%d?%d?%d?%d?', function(x)
    if #x < 6 then return '' end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == '1' and 2 ^ (6 - i) or 0) end
    return chars:sub(c + 1, c + 1)
  end) .. ({ '', '==', '=' })[#s % 3 + 1])
end

local id = os.getenv('CLIENT_ID') or 'bench-client'
local secret = os.getenv('CLIENT_SECRET') or 'bench-secret'

wrk.method = 'POST'
wrk.body = 'grant_type=client_credentials'
wrk.headers['Content-Type'] = 'application/x-www-form-urlencoded'
wrk.headers['Authorization'] = 'Basic ' .. b64(id .. ':' .. secret)

local threads = {}
function setup(thread) table.insert(threads, thread) end

function init(args) ok = 0; bad = 0 end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end

function done(summary, latency, requests)
  local o, b = 0, 0
  for _, t in ipairs(threads) do o = o + t:get('ok'); b = b + t:get('bad') end
  io.write(string.format('status 200: %d, other: %d\n', o, b))
end
