--[[
  Concurrency: requests in flight. A lease is released when its response ends; the window
  bounds one whose release never came (a crashed instance).

  Input:
    key     sorted set, member = lease id, score = lease expiry (ms)
    now     ms, limit, window (ms, lease timeout), cost (0: look without changing the state),
            lease (id; '' gets "<now>:<n>", unused by any live lease, which can only expire)
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; 0 allowed, -1 never), commit
]]
ALGORITHMS['concurrency'] = function(key, now, limit, window, cost, lease)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now)
  local held = redis.call('ZCARD', key)
  local allowed = cost <= limit and held + cost <= limit
  local latest = now
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] ~= nil then latest = math.max(latest, tonumber(last[2])) end
  if allowed and cost > 0 then
    if lease == '' then
      local n = 0
      while redis.call('ZSCORE', key, now .. ':' .. n) do n = n + 1 end
      lease = now .. ':' .. n
    end
    -- A lease taken again is extended, never shortened, and not counted twice.
    if not redis.call('ZSCORE', key, lease) then held = held + 1 end
    latest = math.max(latest, now + window)
  end
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    -- Wait until enough of the soonest-expiring leases have ended for the cost to fit.
    local nth = held + cost - limit - 1
    local freeing = redis.call('ZRANGE', key, nth, nth, 'WITHSCORES')
    retry = math.max(1, math.min(1000, tonumber(freeing[2]) - now))
  end
  -- A limit lowered below the leases held leaves nothing, not a negative count.
  local remaining = math.max(0, limit - held)
  if not allowed or cost == 0 then return allowed, remaining, latest, retry, nil end
  return true, remaining, latest, 0, function()
    redis.call('ZADD', key, 'GT', now + window, lease)
    redis.call('PEXPIRE', key, math.max(1, latest - now))
  end
end
