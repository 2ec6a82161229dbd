--[[
  Weighted token bucket: one budget of `limit` per window shared by priority classes. Class i of
  weight w_i (of W in all) has a reserve of limit * w_i / W tokens refilled at limit * w_i / W per
  window; what a full reserve cannot hold spills into a common pool, and a class takes from its
  reserve first, then from the pool. While every class asks for more than it gets, each gets its
  share exactly; a class alone gets the whole budget (the others' spill); the reserves and the
  pool never hold more than `limit` together, so over any span T at most limit + limit * T / window
  are admitted. No state means every reserve full.

  Tokens are counted in integer sub-units, as the token bucket does: with g = gcd(limit, window),
  a token is W * window / g sub-units and class i refills limit / g * w_i sub-units per ms.

  Input:
    key     hash { ts = time of the counts (ms), u = sub-units per token when written,
                   p = pool (sub-units), c:<class> = that class's reserve (sub-units) }
    now     ms, limit, window (ms), cost (0: look without changing the state)
    shares  '<class>=<weight>,<class>=<weight>,...|<class of this request>', classes sorted by name;
            '' is one class holding the whole budget (a token bucket)
  Output:
    allowed, remaining (what this class can take now), reset_at (ms, when every reserve is full),
    retry_after (ms; 0 allowed, -1 never), commit
]]
local function weighted_token_bucket_gcd(a, b)
  while b > 0 do a, b = b, a % b end
  return a
end

ALGORITHMS['weighted-token-bucket'] = function(key, now, limit, window, cost, shares)
  if shares == '' then shares = 'all=1|all' end
  local spec, class = string.match(shares, '^(.*)|(.*)$')
  local names, weights, total_weight = {}, {}, 0
  for name, weight in string.gmatch(spec or '', '([^,=]+)=(%d+)') do
    names[#names + 1] = name
    weights[name] = tonumber(weight)
    total_weight = total_weight + tonumber(weight)
  end
  if weights[class] == nil then error('weighted-token-bucket: unknown class ' .. tostring(class)) end
  local g = weighted_token_bucket_gcd(limit, window)
  local per = total_weight * window / g
  local unit_rate = limit / g
  local total = limit * per

  local own, pool, ts = {}, 0, now
  local stored = redis.call('HGETALL', key)
  local fields = {}
  for i = 1, #stored, 2 do fields[stored[i]] = tonumber(stored[i + 1]) end
  if fields.ts ~= nil and fields.u ~= nil then
    local scale = function(n)
      -- Rounded down: a changed rule never gains a fraction of a token from the conversion.
      if fields.u == per then return n end
      return math.floor((n * per) / fields.u)
    end
    local elapsed = math.max(0, now - fields.ts)
    ts = math.max(fields.ts, now)
    local spill, held = 0, 0
    for _, name in ipairs(names) do
      local cap = unit_rate * weights[name] * window
      local n = scale(fields['c:' .. name] or 0) + elapsed * unit_rate * weights[name]
      if n > cap then
        spill = spill + (n - cap)
        n = cap
      end
      own[name] = n
      held = held + n
    end
    pool = math.min(total - held, scale(fields.p or 0) + spill)
  else
    for _, name in ipairs(names) do own[name] = unit_rate * weights[name] * window end
  end

  local need = cost * per
  local available = own[class] + pool
  local allowed = cost <= limit and available >= need
  if allowed then
    local from_own = math.min(own[class], need)
    own[class] = own[class] - from_own
    pool = pool - (need - from_own)
  end
  local held = pool
  for _, name in ipairs(names) do held = held + own[name] end
  local to_full = math.ceil((total - held) / (unit_rate * total_weight))
  local ahead = ts - now
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    retry = math.max(1, ahead + math.ceil((need - available) / (unit_rate * weights[class])))
  end
  local remaining = math.floor((own[class] + pool) / per)
  if not allowed or cost == 0 then return allowed, remaining, ts + to_full, retry, nil end
  return true, remaining, ts + to_full, 0, function()
    redis.call('DEL', key)
    local args = { 'ts', string.format('%.17g', ts), 'u', string.format('%.17g', per),
      'p', string.format('%.17g', pool) }
    for _, name in ipairs(names) do
      args[#args + 1] = 'c:' .. name
      args[#args + 1] = string.format('%.17g', own[name])
    end
    redis.call('HSET', key, unpack(args))
    redis.call('PEXPIRE', key, math.max(1, ahead + to_full))
  end
end
