--[[
  Decides one request against all of its rules at once, all-or-nothing: the request is charged
  to every rule only if every enforced rule admits it; otherwise it is charged to none.
  A dry-run rule never blocks the others and is charged only when it admits.

  Input:
    KEYS[1..n]       state key of rule i (n rules)
    KEYS[n+1 ...]    the block key of each rule with a block duration, in rule order
    ARGV[1]          now (ms) for tests; '' in production: time comes from Redis TIME
    ARGV[2]          '1' to charge, '0' to only look (admin inspect), 'r' to refund a charge
    ARGV[3]          refund: the time (ms) the refunded charge was decided at; '' otherwise
    ARGV[4 + 8(i-1) ...] per rule i:
      algorithm      'fixed-window' | 'sliding-window-log' | 'sliding-window-counter' |
                     'token-bucket' | 'leaky-bucket' | 'gcra' | 'concurrency' |
                     'weighted-token-bucket'
      limit          positive integer
      window         ms
      cost           units; 0 only looks (admin inspect)
      enforce        '1' enforce, '0' dry-run
      extra          concurrency: the lease id; weighted-token-bucket: the classes, their
                     weights and the request's class ('high=3,low=1|high'); '' otherwise
      block          ms a denial of this rule keeps the caller denied; 0 none
      max_delay      leaky-bucket and gcra: ms a request may be held for its slot; 0 none

  Output:
    { admitted (1|0), now (epoch ms, the time decided at), then per rule: allowed (1|0),
      remaining, reset_at (epoch ms), retry_after (ms: denied, the wait before a retry, -1 never;
      allowed, the wait before the request may proceed, 0 but for a shaped rule) }

  A block is a string key holding the block's end (ms), set with PX = the block duration when
  the rule denies a charged request; while it lasts the rule denies without deciding. Its end is
  kept in the value, not read from PTTL, so that a test's fake clock governs it as it governs
  the state. A refund gives back what one admitted charge took and answers the state as a look.
]]
local FIELDS = 8
local now_arg = ARGV[1]          -- fake clock (ms) for tests; '' in production
local mode = ARGV[2]
local charge = mode == '1'       -- false: a look (or a refund), no decision is written
local charged_at = tonumber(ARGV[3])
local count = (#ARGV - 3) / FIELDS
local rules = {}                 -- rule i: its keys and its ARGV fields
local block_keys = count
for i = 1, count do
  local base = 4 + (i - 1) * FIELDS
  rules[i] = {
    key = KEYS[i],
    algorithm = ARGV[base],
    limit = tonumber(ARGV[base + 1]),
    window = tonumber(ARGV[base + 2]),
    cost = tonumber(ARGV[base + 3]),
    enforce = ARGV[base + 4] == '1',
    extra = ARGV[base + 5],
    block = tonumber(ARGV[base + 6]),
    max_delay = tonumber(ARGV[base + 7]),
  }
  if rules[i].block > 0 then
    block_keys = block_keys + 1
    rules[i].block_key = KEYS[block_keys]
  end
end

local now
if now_arg ~= '' then
  now = tonumber(now_arg)
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

local ALGORITHMS = {}
-- REFUNDS[algorithm](key, now, limit, window, cost, extra, charged_at): undoes one admitted charge.
local REFUNDS = {}
--- @include "algorithms/fixed-window"
--- @include "algorithms/sliding-window-log"
--- @include "algorithms/sliding-window-counter"
--- @include "algorithms/token-bucket"
--- @include "algorithms/leaky-bucket"
--- @include "algorithms/gcra"
--- @include "algorithms/concurrency"
--- @include "algorithms/weighted-token-bucket"

if mode == 'r' then
  local reply = { 1, now }
  for _, rule in ipairs(rules) do
    local refund = REFUNDS[rule.algorithm]
    if refund == nil then
      return redis.error_reply('ERR no refund for algorithm ' .. tostring(rule.algorithm))
    end
    refund(rule.key, now, rule.limit, rule.window, rule.cost, rule.extra, charged_at)
    local _, remaining, reset_at = ALGORITHMS[rule.algorithm](
      rule.key, now, rule.limit, rule.window, 0, rule.extra, rule.max_delay)
    reply[#reply + 1] = 1
    reply[#reply + 1] = remaining
    reply[#reply + 1] = reset_at
    reply[#reply + 1] = 0
  end
  return reply
end

local admitted = true
local reply = { 0, now }
local commits = {}
-- reply slots of the admitting rules' `remaining`, and their costs
local charged, costs = {}, {}
-- rules whose denial starts a block, if the request is charged
local blocking = {}
for _, rule in ipairs(rules) do
  local decide = ALGORITHMS[rule.algorithm]
  if decide == nil then
    return redis.error_reply('ERR unknown algorithm ' .. tostring(rule.algorithm))
  end
  local allowed, remaining, reset_at, retry, commit = decide(
    rule.key, now, rule.limit, rule.window, rule.cost, rule.extra, rule.max_delay)
  local blocked_until = nil
  if rule.block_key then blocked_until = tonumber(redis.call('GET', rule.block_key)) end
  if blocked_until ~= nil and blocked_until > now then
    -- Denied whatever the algorithm says, until the later of the block's end and its own.
    if allowed then
      retry = blocked_until - now
    elseif retry >= 0 then
      retry = math.max(retry, blocked_until - now)
    end
    allowed, remaining, reset_at, commit = false, 0, math.max(reset_at, blocked_until), nil
  elseif not allowed and rule.block_key and retry >= 0 then
    -- A cost above the limit (-1) is the caller's error, not its pace: it starts no block.
    blocking[#blocking + 1] = rule
    remaining = 0
    reset_at = math.max(reset_at, now + rule.block)
    retry = math.max(retry, rule.block)
  end
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
if charge then
  for _, rule in ipairs(blocking) do
    redis.call('SET', rule.block_key, string.format('%d', now + rule.block), 'PX', rule.block)
  end
end
return reply
