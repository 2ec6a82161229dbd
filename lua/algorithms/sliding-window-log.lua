--[[
  Sliding window log: every admitted request, exact; memory grows with the limit.

  Input:
    key     sorted set, score = admission time (ms), member = "<time>:<n>:<cost>"
    now     ms, limit, window (ms), cost (0: look without changing the state)
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; 0 allowed, -1 never), commit
]]
ALGORITHMS['sliding-window-log'] = function(key, now, limit, window, cost)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local entries = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
  local used, newest = 0, nil
  for i = 1, #entries, 2 do
    used = used + tonumber(string.match(entries[i], ':(%d+)$'))
    local at = tonumber(entries[i + 1])
    if newest == nil or at > newest then newest = at end
  end
  local allowed = cost <= limit and used + cost <= limit
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
    local needed, freed = used + cost - limit, 0
    for i = 1, #entries, 2 do
      freed = freed + tonumber(string.match(entries[i], ':(%d+)$'))
      if freed >= needed then
        retry = math.max(1, tonumber(entries[i + 1]) + window - now)
        break
      end
    end
  end
  -- A limit lowered below what was used leaves nothing, not a negative count.
  local remaining = math.max(0, limit - used)
  if not allowed or cost == 0 then return allowed, remaining, reset_at, retry, nil end
  return true, remaining, reset_at, 0, function()
    local n = redis.call('ZCOUNT', key, now, now)
    redis.call('ZADD', key, now, now .. ':' .. n .. ':' .. cost)
    redis.call('PEXPIRE', key, math.max(1, reset_at - now))
  end
end
