--[[
  Token bucket: capacity `limit`, refilled continuously by `limit` per window; no state means full.
  Tokens are counted in integer sub-units (`per` make one token, `rate` refill per ms, per / rate =
  window / limit reduced by their gcd) so that refills never drift as float fractions do.

  Input:
    key     hash { t = tokens in sub-units (%.17g), u = sub-units per token (`per` when written),
                   ts = time of that count (ms) }
    now     ms, limit, window (ms), cost (0: look without changing the state)
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; 0 allowed, -1 never), commit
]]
local function token_bucket_units(limit, window)
  local a, b = limit, window
  while b > 0 do a, b = b, a % b end
  return window / a, limit / a
end

-- The tokens (sub-units) and their time, refilled to now.
local function token_bucket_level(key, now, per, rate, capacity)
  local stored = redis.call('HMGET', key, 't', 'u', 'ts')
  local n, ts = capacity, now
  local stored_n, stored_per, stored_ts = tonumber(stored[1]), tonumber(stored[2]), tonumber(stored[3])
  if stored_n ~= nil and stored_per ~= nil and stored_ts ~= nil then
    -- Rounded down: a changed rule never gains a fraction of a token from the conversion.
    if stored_per ~= per then stored_n = math.floor((stored_n * per) / stored_per) end
    n = math.min(capacity, stored_n + math.max(0, now - stored_ts) * rate)
    ts = math.max(stored_ts, now)
  end
  return n, ts
end

local function token_bucket_store(key, now, per, rate, capacity, kept, ts)
  redis.call('HSET', key, 't', string.format('%.17g', kept), 'u', string.format('%.17g', per),
    'ts', string.format('%.17g', ts))
  redis.call('PEXPIRE', key, math.max(1, ts - now + math.ceil((capacity - kept) / rate)))
end

ALGORITHMS['token-bucket'] = function(key, now, limit, window, cost)
  local per, rate = token_bucket_units(limit, window)
  local capacity = limit * per
  local n, ts = token_bucket_level(key, now, per, rate, capacity)
  local need = cost * per
  local allowed = cost <= limit and n >= need
  local kept = n
  if allowed then kept = n - need end
  local to_full = math.ceil((capacity - kept) / rate)
  -- Above 0 only when the clock went back: the count is as of `ts` and refills from there.
  local ahead = ts - now
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    retry = math.max(1, ahead + math.ceil((need - n) / rate))
  end
  local remaining = math.floor(kept / per)
  if not allowed or cost == 0 then return allowed, remaining, ts + to_full, retry, nil end
  return true, remaining, ts + to_full, 0, function()
    token_bucket_store(key, now, per, rate, capacity, kept, ts)
  end
end

-- Puts the charge's tokens back, never above the capacity.
REFUNDS['token-bucket'] = function(key, now, limit, window, cost)
  local per, rate = token_bucket_units(limit, window)
  local capacity = limit * per
  local n, ts = token_bucket_level(key, now, per, rate, capacity)
  if n == capacity then return end
  token_bucket_store(key, now, per, rate, capacity, math.min(capacity, n + cost * per), ts)
end
