-- One limit decision for voice-agent, atomically over every scope (same formula as
-- agent/src/core/gcra.rs and ledger.rs, in microseconds of Redis's own clock).
--
-- KEYS[1..3]  participant, room and global hashes (one hash tag, so one Cluster slot)
-- ARGV[1]     "check" | "settle" | "view"
-- ARGV[2]     cost warning share, permille
-- ARGV[3]     settle: the UTC day the reservation was counted on
-- ARGV[4..]   rules, 5 values each: key index, unit (0..4), window (0 min, 1 hour, 2 day),
--             limit, amount (check: units to take; settle: actual - reserved, may be < 0)
--
-- Hash fields: "t<unit><window>" = GCRA TAT (us), "d<unit>" = used today, "day" = UTC day.
-- check  -> {1, day, warn_bits} or {0, rule_number, wait_us}   (nothing written on 0)
-- settle -> {1, day, warn_bits}
-- view   -> {day, current_1, current_2, ...}

local mode = ARGV[1]
local warn = tonumber(ARGV[2])
local reserved_day = tonumber(ARGV[3])
local t = redis.call('TIME')
local secs = tonumber(t[1])
local now = secs * 1000000 + tonumber(t[2])
local day = math.floor(secs / 86400)
local to_midnight = (86400 - secs % 86400) * 1000000 - tonumber(t[2])

local function int(v)
  return string.format('%.0f', v)
end

local days, cost_before = {}, {}
for k = 1, #KEYS do
  days[k] = tonumber(redis.call('HGET', KEYS[k], 'day') or '-1')
end
local function used_today(k, unit)
  if days[k] ~= day then return 0 end
  return tonumber(redis.call('HGET', KEYS[k], 'd' .. unit) or '0')
end
for k = 1, #KEYS do
  cost_before[k] = used_today(k, 4)
end

local writes, ttl = {}, {}
local function want_ttl(k, ms)
  if ttl[k] == nil or ttl[k] < ms then ttl[k] = ms end
end

local views = {day}
local worst_wait, worst_rule = -1, 0
for i = 4, #ARGV, 5 do
  local k = tonumber(ARGV[i])
  local unit = ARGV[i + 1]
  local win = tonumber(ARGV[i + 2])
  local limit = tonumber(ARGV[i + 3])
  local n = tonumber(ARGV[i + 4])
  local rule = (i - 4) / 5 + 1
  if win == 2 then
    local field = 'd' .. unit
    local used = used_today(k, unit)
    if mode == 'view' then
      table.insert(views, math.min(used, limit))
    elseif mode == 'settle' then
      if n > 0 then
        table.insert(writes, {k, field, used + n})
      elseif days[k] == day and reserved_day == day then
        table.insert(writes, {k, field, math.max(used + n, 0)})
      end
      want_ttl(k, math.floor(to_midnight / 1000) + 60000)
    elseif used + n <= limit then
      table.insert(writes, {k, field, used + n})
      want_ttl(k, math.floor(to_midnight / 1000) + 60000)
    elseif to_midnight > worst_wait then
      worst_wait, worst_rule = to_midnight, rule
    end
  else
    local window = 60000000
    if win == 1 then window = 3600000000 end
    local interval = math.max(math.ceil(window / limit), 1)
    local span = limit * interval
    local field = 't' .. unit .. win
    local tat = tonumber(redis.call('HGET', KEYS[k], field) or '0')
    if mode == 'view' then
      table.insert(views, math.min(math.ceil(math.max(tat - now, 0) / interval), limit))
    elseif mode == 'settle' then
      local new
      if n >= 0 then new = math.max(tat, now) + n * interval
      else new = math.max(tat + n * interval, now) end
      table.insert(writes, {k, field, new})
      want_ttl(k, math.ceil((new - now) / 1000) + 1000)
    elseif n > limit then
      if window > worst_wait then worst_wait, worst_rule = window, rule end
    else
      local new = math.max(tat, now) + n * interval
      if new - now <= span then
        table.insert(writes, {k, field, new})
        want_ttl(k, math.ceil((new - now) / 1000) + 1000)
      elseif new - now - span > worst_wait then
        worst_wait, worst_rule = new - now - span, rule
      end
    end
  end
end

if mode == 'view' then return views end
if worst_rule > 0 then return {0, worst_rule, int(worst_wait)} end

-- Everything passed: roll day counters that belong to an older day, then write.
for k = 1, #KEYS do
  if ttl[k] ~= nil and days[k] ~= day then
    redis.call('HDEL', KEYS[k], 'd0', 'd1', 'd2', 'd3', 'd4')
    redis.call('HSET', KEYS[k], 'day', day)
  end
end
for _, w in ipairs(writes) do
  redis.call('HSET', KEYS[w[1]], w[2], int(w[3]))
end
local warn_bits = 0
for k = 1, #KEYS do
  if ttl[k] ~= nil then
    local have = redis.call('PTTL', KEYS[k])
    if have < ttl[k] then redis.call('PEXPIRE', KEYS[k], int(ttl[k])) end
  end
end
-- Cost-cap warning: spend crossed the warning share of a cap with this charge.
for i = 4, #ARGV, 5 do
  local k, unit, win, limit = tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  if unit == '4' and win == 2 and limit > 0 then
    local before = cost_before[k]
    local after = tonumber(redis.call('HGET', KEYS[k], 'd4') or '0')
    if before * 1000 < limit * warn and after * 1000 >= limit * warn then
      warn_bits = bit.bor(warn_bits, bit.lshift(1, k - 1))
    end
  end
end
return {1, day, warn_bits}
