import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Leases that will lapse within a window (their container missed renewals), with the Redis
 * session (CLIENT ID) that last renewed each: the failure detector's fast path checks whether
 * those connections still exist.
 *
 * KEYS[1] leases sorted set   id -> deadline ms
 *
 * ARGV[1] container hash key prefix (the key is prefix .. id; same `{c}` slot as KEYS[1])
 * ARGV[2] window ms: deadlines before now + window are suspect
 * ARGV[3] at most this many
 *
 * Returns a flat list {id, session, ...} of active containers with a known session.
 */
export const suspectLeases: LuaScript = {
  name: 'flotillaSuspectLeases',
  numberOfKeys: 1,
  lua: `${LUA_HELPERS}
local now = nowMs()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now + tonumber(ARGV[2])), 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(due) do
  local record = redis.call('HMGET', ARGV[1] .. id, 'state', 'session')
  if record[1] == 'active' and record[2] and record[2] ~= '' then
    table.insert(out, id)
    table.insert(out, record[2])
  end
end
return out
`,
};
