"""The Lua scripts of the Redis store. Each declares every key it touches in KEYS (so they
would run on a Redis Cluster too); what varies per slave lives in fields of one hash,
``slave-state``, as ``heartbeat:<id>``, ``state:<id>``, ``wanted:<id>`` and ``placed:<id>``.
"""

# Store a heartbeat: the slave's details, its liveness, and a reset of its placements since.
# KEYS: slaves set, slave:<id>, slave-state. ARGV: id, heartbeat, state, web address, then
# detail pairs. (The web address sits with the liveness, where a viewer redirect reads it.)
# Returns {1 if the store had no live record of the slave (new, lost, or marked dead) else 0,
# the state an operator wants it in (or false)}.
HEARTBEAT = """
local id = ARGV[1]
redis.call('SADD', KEYS[1], id)
local previous = redis.call('HGET', KEYS[3], 'state:' .. id)
redis.call('HSET', KEYS[3], 'heartbeat:' .. id, ARGV[2], 'state:' .. id, ARGV[3], 'placed:' .. id, 0,
           'web:' .. id, ARGV[4])
redis.call('HSET', KEYS[2], unpack(ARGV, 5))
local lacking = 0
if previous == false or previous == 'dead' then lacking = 1 end
return {lacking, redis.call('HGET', KEYS[3], 'wanted:' .. id)}
"""

# Claim the session-table entry for a broadcast, atomically across masters (S9); the same
# rule as master.store.decide_claim. KEYS: broadcasts, slave-state. ARGV: user, session,
# slave id, slave addr, now, dead_after, pending_ttl, move ("1" or "0").
# Returns {status, entry JSON}.
CLAIM = """
local now = tonumber(ARGV[5])
local current = redis.call('HGET', KEYS[1], ARGV[1])
if current then
  local entry = cjson.decode(current)
  local state = redis.call('HGET', KEYS[2], 'state:' .. entry.slave)
  local heartbeat = tonumber(redis.call('HGET', KEYS[2], 'heartbeat:' .. entry.slave) or '0')
  local wanted = redis.call('HGET', KEYS[2], 'wanted:' .. entry.slave)
  if state and state ~= 'dead' and now - heartbeat < tonumber(ARGV[6]) then
    if entry.session ~= ARGV[2] then
      if entry.confirmed or now - entry.updated < tonumber(ARGV[7]) then return {'busy', current} end
    elseif ARGV[8] ~= '1' and state == 'live' and wanted ~= 'draining' then
      return {'existing', current}
    end
  end
end
local entry = cjson.encode({user=ARGV[1], session=ARGV[2], slave=ARGV[3], addr=ARGV[4],
                            updated=now, confirmed=false})
redis.call('HSET', KEYS[1], ARGV[1], entry)
redis.call('HINCRBY', KEYS[2], 'placed:' .. ARGV[3], 1)
return {'claimed', entry}
"""

# Delete a session-table entry only if it still belongs to the given session and slave, so
# a late "removed" report never deletes the entry of a newer broadcast elsewhere.
# KEYS: broadcasts. ARGV: user, session, slave id.
REMOVE = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if not current then return 0 end
local entry = cjson.decode(current)
if entry.session == ARGV[2] and entry.slave == ARGV[3] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
"""

# A viewer redirect's reads in one call: the broadcast's entry, the liveness of the slave it
# names, and the viewing user's sessions. KEYS: broadcasts, slave-state, viewers:<viewer>.
# ARGV: target. Returns {entry or false, {heartbeat, state, wanted, web}, flattened sessions}.
LOCATE = """
local entry = redis.call('HGET', KEYS[1], ARGV[1])
local slave = {}
if entry then
  local id = cjson.decode(entry).slave
  slave = redis.call('HMGET', KEYS[2], 'heartbeat:' .. id, 'state:' .. id, 'wanted:' .. id, 'web:' .. id)
end
return {entry or false, slave, redis.call('HGETALL', KEYS[3])}
"""

# Remove a viewer session; the user leaves the set of viewing users with its last one.
# KEYS: viewers:<user>, viewer-users. ARGV: session, user.
REMOVE_VIEWER = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
"""

# Count a user's sessions on one master up or down; the field goes with the last one.
# KEYS: presence:<master>. ARGV: user, delta.
PRESENCE = """
local count = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if count <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return count
"""

# A rate limit (the generic cell rate algorithm, as common.ratelimit.gcra): returns the
# seconds to wait (0 when the event is allowed, and then counted). KEYS: the limit's key.
# ARGV: now, rate (events a second), burst, count (0: only the wait, nothing counted).
RATE_LIMIT = """
local now, rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local interval = 1 / rate
local tat = tonumber(redis.call('GET', KEYS[1]) or ARGV[1])
local new_tat = math.max(tat, now) + interval
local wait = new_tat - now - burst * interval
if wait > 1e-9 then return string.format('%.17g', wait) end
if ARGV[4] == '0' then return '0' end
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', math.ceil((new_tat - now) * 1000) + 1000)
return '0'
"""
