-- Concurrent-session slots for voice-agent: one sorted set per scope, members are lease ids
-- scored by their expiry (ms, Redis clock), so a crashed worker's leases lapse by themselves.
--
-- KEYS[1..3]  participant, room and global sets
-- ARGV[1]     "acquire" | "release" | "renew" | "restore" | "view" (restore: put a held lease
--             back after Redis lost its data, without checking limits)
-- ARGV[2]     lease id
-- ARGV[3]     lease time to live, ms
-- ARGV[4..6]  limits per key (0 = no limit)
-- acquire -> {1} or {0, key_index};  release/renew/restore -> {1};  view -> {count_1, count_2, count_3}

local mode = ARGV[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
local expiry = string.format('%.0f', now + ttl)

for k = 1, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[k], '-inf', string.format('%.0f', now))
end
if mode == 'view' then
  local out = {}
  for k = 1, #KEYS do out[k] = redis.call('ZCARD', KEYS[k]) end
  return out
end
if mode == 'release' then
  for k = 1, #KEYS do redis.call('ZREM', KEYS[k], ARGV[2]) end
  return {1}
end
if mode == 'acquire' then
  for k = 1, #KEYS do
    local limit = tonumber(ARGV[3 + k])
    if limit > 0 and redis.call('ZSCORE', KEYS[k], ARGV[2]) == false
      and redis.call('ZCARD', KEYS[k]) >= limit then
      return {0, k}
    end
  end
end
for k = 1, #KEYS do
  if mode == 'renew' then
    redis.call('ZADD', KEYS[k], 'XX', expiry, ARGV[2])
  else
    redis.call('ZADD', KEYS[k], expiry, ARGV[2])
  end
  redis.call('PEXPIRE', KEYS[k], string.format('%.0f', ttl * 2))
end
return {1}
