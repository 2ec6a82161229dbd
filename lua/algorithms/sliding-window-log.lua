--[[
  Sliding window log: every admitted request, exact; memory grows with the limit.

  Input:
    key     sorted set, one member per admitted request: score = admission time (ms),
            member = "<d><total>:<cost>", where total counts the units admitted under this key
            up to and including this request (a running sum, so it is unique per admission) and
            d is a letter giving total's number of digits ('a' = 1 ... 'p' = 16), which makes
            members of one time sort by total, in the order they were admitted
    now     ms, limit, window (ms), cost (0: look without changing the state)
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; 0 allowed, -1 never), commit

  The running totals make the units in the window the newest total minus the oldest's total
  before it: a decision reads two entries whatever the limit, O(log n) for n entries in the window
  (plus the expired ones it removes, each once). A denial finds the entry whose leaving frees
  enough units by its running total: by rank when every cost is 1 (units == entries; 1 read),
  otherwise a search of at most about 2 log2(n) reads; the retry is exact either way, never capped.
  Rare writes renumber entries: a clock that went back logs the request before the k later ones
  and moves their totals up (O(k log n)); totals past 2^52 (still exact in Lua's doubles) are
  counted again from 0 (O(n log n), once per 2^52 units); a key logged by an older version,
  without totals, is numbered once.
]]
local LOG_RENUMBER_AT = 2 ^ 52

-- The running total and cost of a member; no total in one written before totals were kept
-- ("<time>:<n>:<cost>").
local function log_entry(member)
  return tonumber(string.match(member, '^%a(%d+):')), tonumber(string.match(member, ':(%d+)$'))
end

local function log_member(total, cost)
  local digits = string.format('%d', total)
  return string.char(96 + #digits) .. digits .. ':' .. string.format('%d', cost)
end

-- Re-adds `entries` (member, score pairs, oldest first), running totals counted on from `total`.
local function log_renumber(key, entries, total)
  for i = 1, #entries, 2 do
    local _, cost = log_entry(entries[i])
    total = total + cost
    redis.call('ZADD', key, entries[i + 1], log_member(total, cost))
  end
end

ALGORITHMS['sliding-window-log'] = function(key, now, limit, window, cost)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  -- before: units admitted ahead of the oldest entry still in the window
  local used, before, last_total, newest = 0, 0, 0, nil
  local oldest = redis.call('ZRANGE', key, 0, 0)
  if oldest[1] ~= nil then
    local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    if log_entry(oldest[1]) == nil or log_entry(last[1]) == nil then
      -- Logged without totals (by an older version): number the entries once, keeping the TTL.
      local ttl = redis.call('PTTL', key)
      local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
      redis.call('DEL', key)
      log_renumber(key, all, 0)
      if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
      oldest = redis.call('ZRANGE', key, 0, 0)
      last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
    end
    local total, units = log_entry(oldest[1])
    before = total - units
    last_total, newest = log_entry(last[1]), tonumber(last[2])
    used = last_total - before
  end
  local allowed = cost <= limit and used + cost <= limit
  local logged_newest = newest
  if allowed and cost > 0 then
    used = used + cost
    if newest == nil or now > newest then newest = now end
  end
  local reset_at = now
  if newest ~= nil then reset_at = newest + window end
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    -- The first entry whose running total reaches before + needed: its leaving frees enough.
    local needed = used + cost - limit
    local target = before + needed
    local count = redis.call('ZCARD', key)
    local rank = needed - 1
    if used ~= count then
      -- Mixed costs. lo falls short of the target (-1: before the oldest), hi reaches it.
      -- Probes guess from the totals, which finds evenly spread costs in a few reads, and
      -- alternate with halving, which bounds the search to about 2 log2(count) reads.
      local lo, lo_total, hi, hi_total = -1, before, count - 1, last_total
      local guess = true
      while hi - lo > 1 do
        local probe = math.floor((lo + hi) / 2)
        if guess then
          probe = lo + math.ceil((target - lo_total) * (hi - lo) / (hi_total - lo_total))
          probe = math.max(lo + 1, math.min(hi - 1, probe))
        end
        guess = not guess
        local total = log_entry(redis.call('ZRANGE', key, probe, probe)[1])
        if total >= target then hi, hi_total = probe, total else lo, lo_total = probe, total end
      end
      rank = hi
    end
    local leaving = redis.call('ZRANGE', key, rank, rank, 'WITHSCORES')
    retry = math.max(1, tonumber(leaving[2]) + window - now)
  end
  -- A limit lowered below what was used leaves nothing, not a negative count.
  local remaining = math.max(0, limit - used)
  if not allowed or cost == 0 then return allowed, remaining, reset_at, retry, nil end
  return true, remaining, reset_at, 0, function()
    if logged_newest ~= nil and now < logged_newest then
      -- The clock went back: the request goes after those logged at or before now.
      local later = redis.call('ZRANGEBYSCORE', key, '(' .. now, '+inf', 'WITHSCORES')
      local total, units = log_entry(later[1])
      redis.call('ZREMRANGEBYSCORE', key, '(' .. now, '+inf')
      table.insert(later, 1, now)
      table.insert(later, 1, log_member(0, cost))
      log_renumber(key, later, total - units)
    elseif last_total + cost > LOG_RENUMBER_AT then
      local all = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
      redis.call('DEL', key)
      all[#all + 1] = log_member(0, cost)
      all[#all + 1] = now
      log_renumber(key, all, 0)
    else
      redis.call('ZADD', key, now, log_member(last_total + cost, cost))
    end
    redis.call('PEXPIRE', key, math.max(1, reset_at - now))
  end
end

-- Removes the admission's entry: the newest logged at the charge's time with its cost (entries
-- alike in both are interchangeable), and moves the running totals of those after it down.
REFUNDS['sliding-window-log'] = function(key, now, limit, window, cost, _, charged_at)
  local same = redis.call('ZRANGEBYSCORE', key, charged_at, charged_at)
  local found, total = nil, nil
  for i = #same, 1, -1 do
    local entry_total, entry_cost = log_entry(same[i])
    if entry_total ~= nil and entry_cost == cost then
      found, total = same[i], entry_total
      break
    end
  end
  if found == nil then return end
  local rank = redis.call('ZRANK', key, found)
  local later = redis.call('ZRANGE', key, rank + 1, -1, 'WITHSCORES')
  local ttl = redis.call('PTTL', key)
  redis.call('ZREMRANGEBYRANK', key, rank, -1)
  log_renumber(key, later, total - cost)
  -- Emptied, the key was deleted: the entries put back need its TTL again.
  if #later > 0 and ttl > 0 then redis.call('PEXPIRE', key, ttl) end
end
