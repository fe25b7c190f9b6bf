-- Small shared facts for voice-agent workers.
--
-- ARGV[1] = "heartbeat": KEYS[1] is the workers set; ARGV[2] worker id, ARGV[3] ttl ms.
--   Marks this worker alive and returns how many workers are alive.
-- ARGV[1] = "open": KEYS[1] is a breaker's open-until key; ARGV[2] wait ms.
--   Keeps the longer of the existing and the new wait; returns the remaining ms.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'heartbeat' then
  local ttl = tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl * 2))
  return redis.call('ZCARD', KEYS[1])
end
local wait = tonumber(ARGV[2])
local have = redis.call('PTTL', KEYS[1])
if have < wait then
  redis.call('SET', KEYS[1], '1', 'PX', string.format('%.0f', wait))
  return wait
end
return have
