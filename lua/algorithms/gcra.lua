--[[
  GCRA: one theoretical arrival time (TAT) per key; emission interval window/limit, burst up to
  `limit`. The TAT is whole ms plus integer sub-units (`rate` per ms; one request unit is `per`,
  per / rate = window / limit reduced by their gcd): a float epoch timestamp cannot hold an
  interval below its precision (about 0.24 microseconds), so 1e9 per second would never advance it.

  Input:
    key     string "<at>:<frac>:<rate>": TAT = at + frac / rate ms (%.17g each)
    now     ms, limit, window (ms), cost (0: look without changing the state)
    max_delay  ms the TAT may run past the burst: a request admitted within it is charged now
            and proceeds after the retry_after answered with it (its reserved slot); 0 none
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; allowed: the wait for its slot, -1 never),
    commit
]]
local function gcra_units(limit, window)
  local a, b = limit, window
  while b > 0 do a, b = b, a % b end
  return window / a, limit / a
end

-- Sub-units by which the TAT is ahead of now; a clock that went back leaves it further ahead.
local function gcra_owed(key, now, rate)
  local stored = redis.call('GET', key)
  if not stored then return 0 end
  local at, frac, stored_rate = string.match(stored, '^([^:]+):([^:]+):([^:]+)$')
  at, frac, stored_rate = tonumber(at), tonumber(frac), tonumber(stored_rate)
  if at == nil or frac == nil or stored_rate == nil then return 0 end
  if stored_rate ~= rate then frac = math.ceil((frac * rate) / stored_rate) end
  return math.max(0, (at - now) * rate + frac)
end

local function gcra_store(key, now, rate, kept)
  local whole = math.floor(kept / rate)
  redis.call('SET', key, string.format('%.17g:%.17g:%.17g', now + whole, kept - whole * rate, rate),
    'PX', math.max(1, math.ceil(kept / rate)))
end

ALGORITHMS['gcra'] = function(key, now, limit, window, cost, _, max_delay)
  local per, rate = gcra_units(limit, window)
  local capacity = limit * per
  local owed = gcra_owed(key, now, rate)
  local slack = max_delay * rate
  local need = cost * per
  local allowed = cost <= limit and owed + need <= capacity + slack
  local kept = owed
  if allowed then kept = owed + need end
  local to_reset = math.ceil(kept / rate)
  local remaining = math.max(0, math.floor((capacity - kept) / per))
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    retry = math.max(1, math.ceil((owed + need - capacity - slack) / rate))
  end
  if not allowed or cost == 0 then return allowed, remaining, now + to_reset, retry, nil end
  local wait = math.max(0, math.ceil((kept - capacity) / rate))
  return true, remaining, now + to_reset, wait, function() gcra_store(key, now, rate, kept) end
end

-- Moves the TAT back by the charge, freeing its slot (a shaped one too).
REFUNDS['gcra'] = function(key, now, limit, window, cost)
  local per, rate = gcra_units(limit, window)
  local owed = gcra_owed(key, now, rate)
  if owed == 0 then return end
  gcra_store(key, now, rate, math.max(0, owed - cost * per))
end
