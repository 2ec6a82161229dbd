--[[
  Leaky bucket as a meter: holds up to `limit`, drains `limit` per window; no state means empty.
  The level is counted in integer sub-units (`per` make one unit, `rate` drain per ms, per / rate =
  window / limit reduced by their gcd) so that draining never drifts as float fractions do.

  Input:
    key     hash { l = level in sub-units (%.17g), u = sub-units per unit (`per` when written),
                   ts = time of that level (ms) }
    now     ms, limit, window (ms), cost (0: look without changing the state)
    max_delay  ms a request may wait in the queue: the level may pass `limit` by what drains in
            that time, and a request admitted above `limit` proceeds after the retry_after
            answered with it, when the level is back at `limit`; 0 none
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; allowed: the wait for its slot, -1 never),
    commit
]]
local function leaky_bucket_units(limit, window)
  local a, b = limit, window
  while b > 0 do a, b = b, a % b end
  return window / a, limit / a
end

-- The level (sub-units) and its time, drained to now.
local function leaky_bucket_level(key, now, per, rate)
  local stored = redis.call('HMGET', key, 'l', 'u', 'ts')
  local n, ts = 0, now
  local stored_n, stored_per, stored_ts = tonumber(stored[1]), tonumber(stored[2]), tonumber(stored[3])
  if stored_n ~= nil and stored_per ~= nil and stored_ts ~= nil then
    -- Rounded up: a changed rule never loses a fraction of a unit it is owed.
    if stored_per ~= per then stored_n = math.ceil((stored_n * per) / stored_per) end
    n = math.max(0, stored_n - math.max(0, now - stored_ts) * rate)
    ts = math.max(stored_ts, now)
  end
  return n, ts
end

local function leaky_bucket_store(key, now, per, rate, kept, ts)
  redis.call('HSET', key, 'l', string.format('%.17g', kept), 'u', string.format('%.17g', per),
    'ts', string.format('%.17g', ts))
  redis.call('PEXPIRE', key, math.max(1, ts - now + math.ceil(kept / rate)))
end

ALGORITHMS['leaky-bucket'] = function(key, now, limit, window, cost, _, max_delay)
  local per, rate = leaky_bucket_units(limit, window)
  local capacity = limit * per
  local n, ts = leaky_bucket_level(key, now, per, rate)
  local slack = max_delay * rate
  local need = cost * per
  local allowed = cost <= limit and n + need <= capacity + slack
  local kept = n
  if allowed then kept = n + need end
  local to_empty = math.ceil(kept / rate)
  -- Above 0 only when the clock went back: the level is as of `ts` and drains from there.
  local ahead = ts - now
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    retry = math.max(1, ahead + math.ceil((n + need - capacity - slack) / rate))
  end
  -- A limit lowered below the level leaves nothing, not a negative count.
  local remaining = math.max(0, math.floor((capacity - kept) / per))
  if not allowed or cost == 0 then return allowed, remaining, ts + to_empty, retry, nil end
  local wait = 0
  if kept > capacity then wait = ahead + math.ceil((kept - capacity) / rate) end
  return true, remaining, ts + to_empty, wait, function()
    leaky_bucket_store(key, now, per, rate, kept, ts)
  end
end

-- Lowers the level by the charge, freeing its place in the queue (a shaped one too).
REFUNDS['leaky-bucket'] = function(key, now, limit, window, cost)
  local per, rate = leaky_bucket_units(limit, window)
  local n, ts = leaky_bucket_level(key, now, per, rate)
  if n == 0 then return end
  leaky_bucket_store(key, now, per, rate, math.max(0, n - cost * per), ts)
end
