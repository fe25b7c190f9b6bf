-- Small shared facts for voice-agent workers.
--
-- ARGV[1] = "heartbeat": KEYS[1] is the workers set, KEYS[2] the generation key; ARGV[2]
--   worker id, ARGV[3] ttl ms, ARGV[4] how long the generation key lives, ms.
--   Marks this worker alive; returns {live workers, generation or ""}.
-- ARGV[1] = "adopt": KEYS[1] is the generation key; ARGV[2] a new generation, ARGV[3] its
--   lifetime ms. Sets it unless one exists; returns the generation in force.
-- ARGV[1] = "open": KEYS[1] is a breaker's open-until key; ARGV[2] wait ms.
--   Keeps the longer of the existing and the new wait; returns the remaining ms.
--
-- The generation key says "Redis holds the workers' state": a Redis that restarted empty
-- has none, and every worker merges what it knows before deciding there again.

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[1] == 'heartbeat' then
  local ttl = tonumber(ARGV[3])
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now))
  redis.call('ZADD', KEYS[1], string.format('%.0f', now + ttl), ARGV[2])
  redis.call('PEXPIRE', KEYS[1], string.format('%.0f', ttl * 2))
  local gen = redis.call('GET', KEYS[2])
  if gen then
    redis.call('PEXPIRE', KEYS[2], ARGV[4])
  else
    gen = ''
  end
  return {redis.call('ZCARD', KEYS[1]), gen}
end
if ARGV[1] == 'adopt' then
  redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[3])
  return redis.call('GET', KEYS[1])
end
local wait = tonumber(ARGV[2])
local have = redis.call('PTTL', KEYS[1])
if have < wait then
  redis.call('SET', KEYS[1], '1', 'PX', string.format('%.0f', wait))
  return wait
end
return have
