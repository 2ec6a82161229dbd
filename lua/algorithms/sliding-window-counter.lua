--[[
  Sliding window counter: counts of the current and previous aligned windows, the previous
  weighted by how much of it still overlaps the sliding window.

  Input:
    key     hash { s = current window start (ms), c = current units, p = previous units }
    now     ms, limit, window (ms), cost (0: look without changing the state)
  Output:
    allowed, remaining, reset_at (ms), retry_after (ms; 0 allowed, -1 never), commit
]]
local function earliest_offset(prev, room, window)
  if prev == 0 then return 0 end
  return math.max(0, window - math.ceil(((room + 1) * window) / prev) + 1)
end

ALGORITHMS['sliding-window-counter'] = function(key, now, limit, window, cost)
  local aligned = now - (now % window)
  local stored = redis.call('HMGET', key, 's', 'c', 'p')
  local start, curr, prev = aligned, 0, 0
  local s = tonumber(stored[1])
  if s ~= nil then
    if s >= aligned then
      start, curr, prev = s, tonumber(stored[2]), tonumber(stored[3])
    elseif s == aligned - window then
      prev = tonumber(stored[2])
    end
  end
  local elapsed = math.max(0, now - start)
  local weighted = math.floor((prev * (window - elapsed)) / window)
  local allowed = cost <= limit and weighted + curr + cost <= limit
  if allowed then curr = curr + cost end
  local retry = 0
  if cost > limit then
    retry = -1
  elseif not allowed then
    local room = limit - curr - cost
    if room >= 0 then
      retry = start + earliest_offset(prev, room, window) - now
    else
      retry = start + window + earliest_offset(curr, limit - cost, window) - now
    end
    retry = math.max(1, retry)
  end
  local reset_at = now
  if curr > 0 then reset_at = start + 2 * window elseif prev > 0 then reset_at = start + window end
  local remaining = math.max(0, limit - weighted - curr)
  if not allowed or cost == 0 then return allowed, remaining, reset_at, retry, nil end
  return true, remaining, reset_at, 0, function()
    redis.call('HSET', key, 's', start, 'c', curr, 'p', prev)
    redis.call('PEXPIRE', key, math.max(1, start + 2 * window - now))
  end
end

-- Gives the charge back to the window it was counted in, current or previous.
REFUNDS['sliding-window-counter'] = function(key, now, limit, window, cost, _, charged_at)
  local stored = redis.call('HMGET', key, 's', 'c', 'p')
  local start, curr, prev = tonumber(stored[1]), tonumber(stored[2]), tonumber(stored[3])
  if start == nil then return end
  if charged_at >= start and charged_at < start + window then
    redis.call('HSET', key, 'c', math.max(0, curr - cost))
  elseif charged_at >= start - window and charged_at < start then
    redis.call('HSET', key, 'p', math.max(0, prev - cost))
  end
end
