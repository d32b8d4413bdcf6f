-- The GCRA step of Decision::gcra in microseconds, atomically on one key.
-- KEYS[1] the bucket; ARGV interval_us, tolerance_us, now_us (empty: Redis TIME).
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local now
if ARGV[3] ~= nil and ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local new_tat = tat + interval
local backlog = new_tat - now
if backlog > tolerance then
  return {0, 0, tat - now, backlog - tolerance}
end
local remaining = math.floor((tolerance - backlog) / interval)
local ttl_ms = math.max(1, math.ceil(backlog / 1000))
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return {1, remaining, backlog, 0}
