--[[
  GCRA: one theoretical arrival time (TAT) per key; emission interval window/limit, burst up to
  `limit`. The TAT is whole ms plus integer sub-units (`rate` per ms; one request unit is `per`,
  per / rate = window / limit reduced by their gcd): a float epoch timestamp cannot hold an
  interval below its precision (about 0.24 microseconds), so 1e9 per second would never advance it.

  Input:
    key     string "<at>:<frac>:<rate>": TAT = at + frac / rate ms (%.17g each)
    now     ms, limit, window (ms), cost (0: look without changing the state)
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; 0 allowed, -1 never), commit
]]
local function gcra_units(limit, window)
  local a, b = limit, window
  while b > 0 do a, b = b, a % b end
  return window / a, limit / a
end

ALGORITHMS['gcra'] = function(key, now, limit, window, cost)
  local per, rate = gcra_units(limit, window)
  local capacity = limit * per
  -- Sub-units by which the TAT is ahead of now; a clock that went back leaves it further ahead.
  local owed = 0
  local stored = redis.call('GET', key)
  if stored then
    local at, frac, stored_rate = string.match(stored, '^([^:]+):([^:]+):([^:]+)$')
    at, frac, stored_rate = tonumber(at), tonumber(frac), tonumber(stored_rate)
    if at ~= nil and frac ~= nil and stored_rate ~= nil then
      if stored_rate ~= rate then frac = math.ceil((frac * rate) / stored_rate) end
      owed = math.max(0, (at - now) * rate + frac)
    end
  end
  local need = cost * per
  local allowed = cost <= limit and owed + need <= capacity
  local kept = owed
  if allowed then kept = owed + need end
  local whole = math.floor(kept / rate)
  local to_reset = math.ceil(kept / rate)
  local remaining = math.max(0, math.floor((capacity - kept) / per))
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    retry = math.max(1, math.ceil((owed + need - capacity) / rate))
  end
  if not allowed or cost == 0 then return allowed, remaining, now + to_reset, retry, nil end
  return true, remaining, now + to_reset, 0, function()
    redis.call('SET', key, string.format('%.17g:%.17g:%.17g', now + whole, kept - whole * rate, rate),
      'PX', math.max(1, to_reset))
  end
end
