--[[
  Decides a batch of requests, each against all of its rules at once and all-or-nothing: a
  request is charged to every rule only if every enforced rule admits it; otherwise it is charged
  to none. A dry-run rule never blocks the others and is charged only when it admits. The
  requests of a batch are decided one after another at one `now`, each on its own: an error about
  one request's keys (WRONGTYPE, an unknown algorithm) is that request's answer, and the others
  are decided as if it had not been sent.

  Input:
    KEYS             per request, in order: the state key of each of its rules, then the block
                     key of each of its rules with a block duration, in rule order
    ARGV[1]          now (ms) for tests; '' in production: time comes from Redis TIME
    ARGV[2]          the batch, a JSON array with one array per request (none: a probe,
                     which writes nothing), each:
      mode           '1' to charge, '0' to only look (admin inspect), 'r' to refund a charge
      charged at     refund: the time (ms) the refunded charge was decided at; 0 otherwise
      then 8 fields per rule:
        algorithm    'fixed-window' | 'sliding-window-log' | 'sliding-window-counter' |
                     'token-bucket' | 'leaky-bucket' | 'gcra' | 'concurrency' |
                     'weighted-token-bucket'
        limit        positive integer
        window       ms
        cost         units; 0 only looks (admin inspect)
        enforce      1 enforce, 0 dry-run
        extra        concurrency: the lease id; weighted-token-bucket: the classes, their
                     weights and the request's class ('high=3,low=1|high'); '' otherwise
        block        ms a denial of this rule keeps the caller denied; 0 none
        max_delay    leaky-bucket and gcra: ms a request may be held for its slot; 0 none

  Output:
    { now (epoch ms, the time decided at), then per request either an error reply or
      { admitted (1|0), then per rule: allowed (1|0), remaining, reset_at (epoch ms),
        retry_after (ms: denied, the wait before a retry, -1 never; allowed, the wait before the
        request may proceed, 0 but for a shaped rule) } }

  A block is a string key holding the block's end (ms), set with PX = the block duration when
  the rule denies a charged request; while it lasts the rule denies without deciding. Its end is
  kept in the value, not read from PTTL, so that a test's fake clock governs it as it governs
  the state. A refund gives back what one admitted charge took and answers the state as a look.
]]
local FIELDS = 8
local now_arg = ARGV[1]          -- fake clock (ms) for tests; '' in production

local now
if now_arg ~= '' then
  now = tonumber(now_arg)
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end

-- The requests, read from KEYS and ARGV here only: request r is `requests[r]`, its rules in order.
local requests = {}
local key = 1                    -- the next request's first key
for r, fields in ipairs(cjson.decode(ARGV[2])) do
  local request = { mode = fields[1], charged_at = fields[2], rules = {} }
  local count = (#fields - 2) / FIELDS
  for i = 1, count do
    local base = 2 + (i - 1) * FIELDS
    request.rules[i] = {
      key = KEYS[key],
      algorithm = fields[base + 1],
      limit = fields[base + 2],
      window = fields[base + 3],
      cost = fields[base + 4],
      enforce = fields[base + 5] == 1,
      extra = fields[base + 6],
      block = fields[base + 7],
      max_delay = fields[base + 8],
    }
    key = key + 1
  end
  for i = 1, count do
    if request.rules[i].block > 0 then
      request.rules[i].block_key = KEYS[key]
      key = key + 1
    end
  end
  requests[r] = request
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


-- Gives back one admitted charge under each rule; answers the state as a look.
local function refund_request(rules, charged_at)
  local reply = { 1 }
  for _, rule in ipairs(rules) do
    local refund = REFUNDS[rule.algorithm]
    if refund == nil then
      error({ err = 'ERR no refund for algorithm ' .. tostring(rule.algorithm) })
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

-- Decides one request against all of its rules; `charge` false only looks.
local function decide_request(rules, charge)
  local admitted = true
  local reply = { 0 }
  local commits = {}
  -- reply slots of the admitting rules' `remaining`, and their costs
  local charged, costs = {}, {}
  -- rules whose denial starts a block, if the request is charged
  local blocking = {}
  for _, rule in ipairs(rules) do
    local decide = ALGORITHMS[rule.algorithm]
    if decide == nil then
      error({ err = 'ERR unknown algorithm ' .. tostring(rule.algorithm) })
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
end

local function run_request(rules, mode, charged_at)
  if mode == 'r' then return refund_request(rules, charged_at) end
  return decide_request(rules, mode == '1')
end

local reply = { now }
for r, request in ipairs(requests) do
  -- An error raised about this request's keys answers this request only.
  local ok, answer = pcall(run_request, request.rules, request.mode, request.charged_at)
  if ok then
    reply[r + 1] = answer
  else
    -- A Redis error (a table, or its text: 'WRONGTYPE ...') keeps its code; a Lua one gets ERR.
    local message = type(answer) == 'table' and answer.err or tostring(answer)
    if not string.find(message, '^%u+ ') then message = 'ERR ' .. message end
    reply[r + 1] = { err = message }
  end
end
return reply
