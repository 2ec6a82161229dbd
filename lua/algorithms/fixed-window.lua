--[[
  Fixed window: a counter per window aligned to the epoch.

  Input:
    key     hash { s = window start (ms), c = units used }
    now     ms, limit, window (ms), cost (0: look without changing the state)
  Output:
    allowed (boolean), remaining, reset_at (ms), retry_after (ms; 0 allowed, -1 never),
    commit (function: charges the request)
]]
ALGORITHMS['fixed-window'] = function(key, now, limit, window, cost)
  local aligned = now - (now % window)
  local stored = redis.call('HMGET', key, 's', 'c')
  local start, count = aligned, 0
  local s = tonumber(stored[1])
  -- A clock that went back keeps the later window rather than granting a fresh one.
  if s ~= nil and s >= aligned then
    start, count = s, tonumber(stored[2])
  end
  local reset_at = start + window
  local ttl = math.max(1, reset_at - now)
  -- A limit lowered below what was used leaves nothing, not a negative count.
  local left = math.max(0, limit - count)
  if cost > limit then
    return false, left, reset_at, -1, nil
  end
  local allowed = count + cost <= limit
  if not allowed then
    return false, left, reset_at, math.max(1, reset_at - now), nil
  end
  if cost == 0 then return true, left, reset_at, 0, nil end
  return true, limit - count - cost, reset_at, 0, function()
    redis.call('HSET', key, 's', start, 'c', count + cost)
    redis.call('PEXPIRE', key, ttl)
  end
end

-- Gives the charge back to the window it was made in; a window that has ended took it with it
-- (as does one a clock gone back had moved past, which is rare and only keeps the charge).
REFUNDS['fixed-window'] = function(key, now, limit, window, cost, _, charged_at)
  local stored = redis.call('HMGET', key, 's', 'c')
  local start, count = tonumber(stored[1]), tonumber(stored[2])
  if start == nil or charged_at < start or charged_at >= start + window then return end
  redis.call('HSET', key, 'c', math.max(0, count - cost))
end
