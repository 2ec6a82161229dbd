--[[
  The least a Redis-backed decision can cost: one token bucket, one key, no options.
  KEYS[1] hash { n = tokens, ts = time of that count (ms) }; ARGV limit, window (ms), cost.
  Returns 1 allowed, 0 denied.
]]
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local limit, window, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'n', 'ts')
local n = tonumber(state[1]) or limit
local ts = tonumber(state[2]) or now
n = math.min(limit, n + math.max(0, now - ts) * limit / window)
local allowed = n >= cost
if allowed then n = n - cost end
redis.call('HSET', KEYS[1], 'n', n, 'ts', now)
redis.call('PEXPIRE', KEYS[1], math.ceil((limit - n) * window / limit) + 1)
if allowed then return 1 end
return 0
