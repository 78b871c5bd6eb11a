"""The Lua scripts that make the Redis store's claim, complete, extend, settle and revive
atomic.

One hash per event holds everything: ``clean``, ``token``, ``lease_until`` (ms, server
clock), ``attempts``, ``first_failed`` and ``last_failed`` (seconds), ``dead``, ``type`` and
``body`` (for a dead letter), ``c:<handler>`` per completed handler and ``e:<handler>`` with
each failing handler's last error. Times come from the server's ``TIME``, so the machines'
clocks never disagree about a lease. A sorted set indexes the dead letters by first failure.
"""

from __future__ import annotations

#: KEYS: event hash. ARGV: token, lease ms, ttl ms, handler names...
#: Returns {status, attempts, completed names...}.
CLAIM = """
local key = KEYS[1]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rec = redis.call('HMGET', key, 'clean', 'token', 'lease_until', 'attempts', 'dead')
local attempts = tonumber(rec[4]) or 0
if rec[5] == '1' then return {'dead_letter', attempts} end
if rec[1] == '1' then
  local all = true
  for i = 4, #ARGV do
    if redis.call('HEXISTS', key, 'c:' .. ARGV[i]) == 0 then all = false; break end
  end
  if all then return {'done', attempts} end
end
if rec[2] and tonumber(rec[3]) > now then return {'in_flight', attempts} end
local lease = tonumber(ARGV[2])
attempts = redis.call('HINCRBY', key, 'attempts', 1)
redis.call('HSET', key, 'token', ARGV[1], 'lease_until', now + lease)
if not rec[4] then
  redis.call('PEXPIRE', key, ARGV[3])
elseif redis.call('PTTL', key) < lease then
  redis.call('PEXPIRE', key, lease)
end
local out = {'claimed', attempts}
for _, field in ipairs(redis.call('HKEYS', key)) do
  if string.sub(field, 1, 2) == 'c:' then out[#out + 1] = string.sub(field, 3) end
end
return out
"""

#: KEYS: event hash, dead-letter index. ARGV: token, event id, n completed, names...,
#: n failed, (name, error)..., dead type ('' for none), dead body. Returns 1 if it held.
SETTLE = """
local key = KEYS[1]
if redis.call('EXISTS', key) == 0 then return 0 end
local n = tonumber(ARGV[3])
for i = 4, 3 + n do
  redis.call('HSET', key, 'c:' .. ARGV[i], '1')
  redis.call('HDEL', key, 'e:' .. ARGV[i])
end
if redis.call('HGET', key, 'token') ~= ARGV[1] then return 0 end
local at = 4 + n
local failed = tonumber(ARGV[at])
for i = at + 1, at + 2 * failed, 2 do
  redis.call('HSET', key, 'e:' .. ARGV[i], ARGV[i + 1])
end
at = at + 2 * failed + 1
redis.call('HDEL', key, 'token')
redis.call('HSET', key, 'lease_until', '0')
if failed == 0 then redis.call('HSET', key, 'clean', '1') end
local t = redis.call('TIME')
local now = t[1] .. '.' .. string.format('%06d', tonumber(t[2]))
if failed > 0 then
  redis.call('HSET', key, 'last_failed', now)
  redis.call('HSETNX', key, 'first_failed', now)
end
if ARGV[at] ~= '' then
  redis.call('HSET', key, 'dead', '1', 'type', ARGV[at], 'body', ARGV[at + 1])
  redis.call('ZADD', KEYS[2], redis.call('HGET', key, 'first_failed'), ARGV[2])
end
return 1
"""

#: KEYS: event hash. ARGV: token, handler name. Returns 1 if the token held the lease.
COMPLETE = """
if redis.call('HGET', KEYS[1], 'token') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'c:' .. ARGV[2], '1')
redis.call('HDEL', KEYS[1], 'e:' .. ARGV[2])
return 1
"""

#: KEYS: event hash. ARGV: token, lease ms. Returns 1 if the token held the lease (then
#: running at least lease ms from now, and the record living at least as long).
EXTEND = """
local key = KEYS[1]
if redis.call('HGET', key, 'token') ~= ARGV[1] then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
if tonumber(redis.call('HGET', key, 'lease_until')) < now + lease then
  redis.call('HSET', key, 'lease_until', now + lease)
end
if redis.call('PTTL', key) < lease then redis.call('PEXPIRE', key, lease) end
return 1
"""

#: KEYS: event hash, dead-letter index. ARGV: event id. Returns the hash as it was, or nil.
REVIVE = """
if redis.call('HGET', KEYS[1], 'dead') ~= '1' then return false end
local record = redis.call('HGETALL', KEYS[1])
redis.call('HDEL', KEYS[1], 'dead', 'type', 'body')
redis.call('ZREM', KEYS[2], ARGV[1])
return record
"""

ALL = {
    "claim": CLAIM,
    "complete": COMPLETE,
    "extend": EXTEND,
    "settle": SETTLE,
    "revive": REVIVE,
}
