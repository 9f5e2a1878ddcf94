-- Token-bucket takes, atomically on the Redis server, one after the other; each mirrors
-- `BucketRule::refill` and `BucketRule::take_from` in ratelimit/mod.rs.
--
-- KEYS     the buckets: each a hash of `tokens` (a float) and `at` (server time, µs).
-- ARGV[1]  the longest wait in ms; then, for each key in turn, burst, refill rate per
--          second (finite, >= 0) and cost.
-- Returns  for each key in turn, two numbers: 1, 0 when allowed; 0 and the ms until enough
--          tokens when limited.
--
-- Time comes from the server so that replicas with skewed clocks agree. A refused take and
-- a peek write nothing: refilling is a function of time, so the stored level stays right.
-- A later take on the same key sees what an earlier one took.

-- Redis < 5 replicates scripts verbatim, and refuses a write after TIME unless told to
-- replicate the effects instead; later versions always do and keep this as a no-op.
if redis.replicate_commands then
  redis.replicate_commands()
end

local max_ms = tonumber(ARGV[1])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])

-- How long `missing` tokens take to refill at `rate`: whole ms rounded up, at least 1, at
-- most max_ms.
local function ms_for(missing, rate)
  if rate <= 0 then
    return max_ms
  end
  return math.max(1, math.min(max_ms, math.ceil(missing * 1000 / rate)))
end

local function take(key, burst, rate, cost)
  local stored = redis.call('HMGET', key, 'tokens', 'at')
  local tokens = tonumber(stored[1])
  local at = tonumber(stored[2])
  if tokens == nil or at == nil then
    -- Never seen, or expired because it was full again.
    tokens = burst
    at = now
  end
  -- A server clock that stepped back (a failover, say) refills nothing until it catches up.
  if now > at then
    tokens = tokens + (now - at) / 1000000 * rate
    at = now
  end
  tokens = math.min(burst, tokens)

  local needed = math.max(cost, 1)
  if tokens + 1e-9 < needed then
    return 0, ms_for(needed - tokens, rate)
  end
  if cost > 0 then
    tokens = math.max(0, tokens - cost)
    redis.call('HSET', key, 'tokens', string.format('%.17g', tokens),
      'at', string.format('%.0f', at))
    -- Once full again the bucket is the same as no bucket: let it go.
    redis.call('PEXPIRE', key, ms_for(burst - tokens, rate))
  end
  return 1, 0
end

local answers = {}
for i, key in ipairs(KEYS) do
  local base = 1 + (i - 1) * 3
  local allowed, wait = take(key, tonumber(ARGV[base + 1]), tonumber(ARGV[base + 2]),
    tonumber(ARGV[base + 3]))
  answers[#answers + 1] = allowed
  answers[#answers + 1] = wait
end
return answers
