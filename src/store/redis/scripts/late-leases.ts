import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Containers that are late with their renewal but whose lease has not lapsed yet: the failure
 * detector's probe path asks each of them over HTTP whether it is still there.
 *
 * KEYS[1] leases sorted set   id -> deadline ms
 *
 * ARGV[1] container hash key prefix (the key is prefix .. id; same `{c}` slot as KEYS[1])
 * ARGV[2] window ms: only deadlines before now + window are looked at (bounds the scan)
 * ARGV[3] late factor: late when now - lastRenewalMs > factor * the container's own interval
 * ARGV[4] at most this many
 *
 * Returns a flat list {id, epoch, lastRenewalMs, hostAddress, apiPort, ...} of active containers.
 */
export const lateLeases: LuaScript = {
  name: 'flotillaLateLeases',
  numberOfKeys: 1,
  lua: `${LUA_HELPERS}
local now = nowMs()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now + tonumber(ARGV[2])), 'LIMIT', 0, tonumber(ARGV[4]))
local factor = tonumber(ARGV[3])
local out = {}
for _, id in ipairs(due) do
  local r = redis.call('HMGET', ARGV[1] .. id, 'state', 'epoch', 'lastRenewalMs', 'leaseIntervalMs', 'hostAddress', 'apiPort')
  if r[1] == 'active' and r[3] and r[4] and now - tonumber(r[3]) > factor * tonumber(r[4]) then
    table.insert(out, id)
    table.insert(out, r[2])
    table.insert(out, r[3])
    table.insert(out, r[5])
    table.insert(out, r[6])
  end
end
return out
`,
};
