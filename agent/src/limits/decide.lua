-- One limit decision for voice-agent, atomically over every scope (same formula as
-- agent/src/core/gcra.rs, ledger.rs and carry.rs, in microseconds of Redis's own clock).
--
-- KEYS[1..n-1] entity hashes: participant, room, global for a decision; any number for a
--              merge (one hash tag, so one Cluster slot)
-- KEYS[n]      the generation key: present while Redis holds the workers' state
-- ARGV[1]      "check" | "settle" | "view" | "flush" | "restore"
-- ARGV[2]      cost warning share, permille
-- ARGV[3]      settle: the UTC day the reservation was counted on;
--              flush/restore: the UTC day of the worker's day floors
-- ARGV[4]      check/settle: the generation the worker knows (another one: nothing is done)
-- ARGV[5..]    rules, 5 values each: key index, unit (0..4), window (0 min, 1 hour, 2 day),
--              limit, amount (check: units to take; settle: actual - reserved, may be < 0);
--              flush/restore: 6 values, the amount being the worker's unshared charges and
--              the sixth its floor (us ahead of now for min/hour, units for a day)
--
-- Hash fields: "t<unit><window>" = GCRA TAT (us), "d<unit>" = used today, "day" = UTC day,
-- "b<unit><window>" = highest floor merged since Redis lost its data (restore only).
-- check   -> {1, day, warn_bits, v...} or {0, rule_number, wait_us, v...}  (nothing written
--            on 0); v per rule: us the TAT is ahead of now / used today, after (1) or as is (0)
-- settle  -> {1, day, warn_bits, v...}
-- view    -> {day, current_1, current_2, ...}
-- flush   -> {1}: at least the floor, plus the unshared amount (Redis kept its data)
-- restore -> {1}: the highest floor of any worker plus every unshared amount (Redis lost it)
-- {2}     -> the generation differs: Redis lost the workers' state; nothing was done

local mode = ARGV[1]
local warn = tonumber(ARGV[2])
local arg_day = tonumber(ARGV[3])
local nk = #KEYS - 1
if mode == 'check' or mode == 'settle' then
  if redis.call('GET', KEYS[#KEYS]) ~= ARGV[4] then return {2} end
end
local merge = mode == 'flush' or mode == 'restore'
local width = 5
if merge then width = 6 end

local t = redis.call('TIME')
local secs = tonumber(t[1])
local now = secs * 1000000 + tonumber(t[2])
local day = math.floor(secs / 86400)
local to_midnight = (86400 - secs % 86400) * 1000000 - tonumber(t[2])

local function int(v)
  return string.format('%.0f', v)
end

local days, cost_before = {}, {}
for k = 1, nk do
  days[k] = tonumber(redis.call('HGET', KEYS[k], 'day') or '-1')
end
local function used_today(k, unit)
  if days[k] ~= day then return 0 end
  return tonumber(redis.call('HGET', KEYS[k], 'd' .. unit) or '0')
end
local function field_today(k, field)
  if days[k] ~= day then return 0 end
  return tonumber(redis.call('HGET', KEYS[k], field) or '0')
end
for k = 1, nk do
  cost_before[k] = used_today(k, 4)
end

local writes, ttl = {}, {}
local function want_ttl(k, ms)
  if ttl[k] == nil or ttl[k] < ms then ttl[k] = ms end
end
local function day_ttl(k)
  want_ttl(k, math.floor(to_midnight / 1000) + 60000)
end

local views = {day}
local before, after = {}, {}
local worst_wait, worst_rule = -1, 0
for i = 5, #ARGV, width do
  local k = tonumber(ARGV[i])
  local unit = ARGV[i + 1]
  local win = tonumber(ARGV[i + 2])
  local limit = tonumber(ARGV[i + 3])
  local n = tonumber(ARGV[i + 4])
  local rule = (i - 5) / width + 1
  if win == 2 then
    local field = 'd' .. unit
    local used = used_today(k, unit)
    before[rule], after[rule] = used, used
    if mode == 'view' then
      table.insert(views, math.min(used, limit))
    elseif merge then
      if arg_day == day then
        local floor = tonumber(ARGV[i + 5])
        local grown = math.max(used, floor)
        if mode == 'restore' then
          local bfield = 'b' .. unit .. '2'
          local base = field_today(k, bfield)
          grown = used + math.max(floor - base, 0)
          if floor > base then table.insert(writes, {k, bfield, floor}) end
        end
        table.insert(writes, {k, field, math.max(grown + n, 0)})
        day_ttl(k)
      end
    elseif mode == 'settle' then
      if n > 0 then
        after[rule] = used + n
        table.insert(writes, {k, field, used + n})
      elseif days[k] == day and arg_day == day then
        after[rule] = math.max(used + n, 0)
        table.insert(writes, {k, field, after[rule]})
      end
      day_ttl(k)
    elseif used + n <= limit then
      after[rule] = used + n
      table.insert(writes, {k, field, used + n})
      day_ttl(k)
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
    before[rule] = math.max(tat - now, 0)
    after[rule] = before[rule]
    local new = nil
    if mode == 'view' then
      table.insert(views, math.min(math.ceil(math.max(tat - now, 0) / interval), limit))
    elseif merge then
      local floor = now + tonumber(ARGV[i + 5])
      local grown = math.max(tat, floor)
      if mode == 'restore' then
        local bfield = 'b' .. unit .. win
        local base = tonumber(redis.call('HGET', KEYS[k], bfield) or '0')
        grown = math.max(tat, now) + math.max(floor - math.max(base, now), 0)
        if floor > base then table.insert(writes, {k, bfield, floor}) end
      end
      if n >= 0 then new = math.max(grown, now) + n * interval
      else new = math.max(grown + n * interval, now) end
    elseif mode == 'settle' then
      if n >= 0 then new = math.max(tat, now) + n * interval
      else new = math.max(tat + n * interval, now) end
    elseif n > limit then
      if window > worst_wait then worst_wait, worst_rule = window, rule end
    else
      local candidate = math.max(tat, now) + n * interval
      if candidate - now <= span then
        new = candidate
      elseif candidate - now - span > worst_wait then
        worst_wait, worst_rule = candidate - now - span, rule
      end
    end
    if new ~= nil then
      after[rule] = new - now
      table.insert(writes, {k, field, new})
      want_ttl(k, math.ceil((new - now) / 1000) + 1000)
    end
  end
end

if mode == 'view' then return views end
local function with_values(head, values)
  for r = 1, #values do table.insert(head, int(values[r])) end
  return head
end
if worst_rule > 0 then return with_values({0, worst_rule, int(worst_wait)}, before) end

-- Everything passed: roll day counters that belong to an older day, then write.
for k = 1, nk do
  if ttl[k] ~= nil and days[k] ~= day then
    redis.call('HDEL', KEYS[k], 'd0', 'd1', 'd2', 'd3', 'd4', 'b02', 'b12', 'b22', 'b32', 'b42')
    redis.call('HSET', KEYS[k], 'day', day)
  end
end
for _, w in ipairs(writes) do
  redis.call('HSET', KEYS[w[1]], w[2], int(w[3]))
end
for k = 1, nk do
  if ttl[k] ~= nil then
    local have = redis.call('PTTL', KEYS[k])
    if have < ttl[k] then redis.call('PEXPIRE', KEYS[k], int(ttl[k])) end
  end
end
if merge then return {1} end
-- Cost-cap warning: spend crossed the warning share of a cap with this charge.
local warn_bits = 0
for i = 5, #ARGV, width do
  local k, unit, win, limit = tonumber(ARGV[i]), ARGV[i + 1], tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3])
  if unit == '4' and win == 2 and limit > 0 then
    local before_cost = cost_before[k]
    local after_cost = tonumber(redis.call('HGET', KEYS[k], 'd4') or '0')
    if before_cost * 1000 < limit * warn and after_cost * 1000 >= limit * warn then
      warn_bits = bit.bor(warn_bits, bit.lshift(1, k - 1))
    end
  end
end
return with_values({1, day, warn_bits}, after)
