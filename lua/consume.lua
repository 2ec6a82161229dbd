--[[
  Decides one request against all of its rules at once, all-or-nothing: the request is charged
  to every rule only if every enforced rule admits it; otherwise it is charged to none.
  A dry-run rule never blocks the others and is charged only when it admits.

  Input:
    KEYS[i]          state key of rule i
    ARGV[1]          now (ms) for tests; '' in production: time comes from Redis TIME
    ARGV[2]          '1' to charge, '0' to only look (admin inspect)
    ARGV[3 + 6(i-1) ...] per rule i:
      algorithm      'fixed-window' | 'sliding-window-log' | 'sliding-window-counter' |
                     'token-bucket' | 'leaky-bucket' | 'gcra' | 'concurrency' |
                     'weighted-token-bucket'
      limit          positive integer
      window         ms
      cost           units; 0 only looks (admin inspect)
      enforce        '1' enforce, '0' dry-run
      extra          concurrency: the lease id; weighted-token-bucket: the classes, their
                     weights and the request's class ('high=3,low=1|high'); '' otherwise

  Output:
    { admitted (1|0), now (epoch ms, the time decided at), then per rule: allowed (1|0),
      remaining, reset_at (epoch ms), retry_after (ms; 0 allowed, -1 never) }
]]
local now_arg = ARGV[1]          -- fake clock (ms) for tests; '' in production
local charge = ARGV[2] == '1'    -- false: a look, nothing is written
local rules = {}                 -- rule i: its key and its six ARGV fields
for i = 1, #KEYS do
  local base = 3 + (i - 1) * 6
  rules[i] = {
    key = KEYS[i],
    algorithm = ARGV[base],
    limit = tonumber(ARGV[base + 1]),
    window = tonumber(ARGV[base + 2]),
    cost = tonumber(ARGV[base + 3]),
    enforce = ARGV[base + 4] == '1',
    extra = ARGV[base + 5],
  }
end

local now
if now_arg ~= '' then
  now = tonumber(now_arg)
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local ALGORITHMS = {}
--- @include "algorithms/fixed-window"
--- @include "algorithms/sliding-window-log"
--- @include "algorithms/sliding-window-counter"
--- @include "algorithms/token-bucket"
--- @include "algorithms/leaky-bucket"
--- @include "algorithms/gcra"
--- @include "algorithms/concurrency"
--- @include "algorithms/weighted-token-bucket"

local admitted = true
local reply = { 0, now }
local commits = {}
-- reply slots of the admitting rules' `remaining`, and their costs
local charged, costs = {}, {}
for _, rule in ipairs(rules) do
  local decide = ALGORITHMS[rule.algorithm]
  if decide == nil then
    return redis.error_reply('ERR unknown algorithm ' .. tostring(rule.algorithm))
  end
  local allowed, remaining, reset_at, retry, commit = decide(
    rule.key, now, rule.limit, rule.window, rule.cost, rule.extra)
  if allowed then
    commits[#commits + 1] = commit
    charged[#charged + 1] = #reply + 2
    costs[#costs + 1] = rule.cost
  elseif rule.enforce then
    admitted = false
  end
  reply[#reply + 1] = allowed and 1 or 0
  reply[#reply + 1] = remaining
  reply[#reply + 1] = reset_at
  reply[#reply + 1] = retry
end

if admitted then reply[1] = 1 end
if admitted and charge then
  for i = 1, #commits do commits[i]() end
else
  -- Nothing was charged: admitting rules report what they still have.
  for i = 1, #charged do reply[charged[i]] = reply[charged[i]] + costs[i] end
end
return reply
