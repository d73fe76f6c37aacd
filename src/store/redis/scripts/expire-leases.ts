import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * The failure detector's step: every lease whose deadline is not after now (Redis TIME) is
 * removed, and its container, if still `active`, is marked `down` and `container_down` logged.
 *
 * The record keys are built here from a prefix, since which ones are due is only known inside the
 * script; they carry the same `{c}` hash tag as KEYS[1], so they live in the same slot.
 *
 * KEYS[1] leases sorted set   id -> deadline ms
 * KEYS[2] events stream
 *
 * ARGV[1] container hash key prefix (the key is prefix .. id)
 * ARGV[2] at most this many leases per call
 * ARGV[3] events max length
 *
 * Returns the ids marked down, in deadline order.
 */
export const expireLeases: LuaScript = {
  name: 'flotillaExpireLeases',
  numberOfKeys: 2,
  lua: `${LUA_HELPERS}
local now = nowMs()
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(now), 'LIMIT', 0, tonumber(ARGV[2]))
local down = {}
for _, id in ipairs(due) do
  redis.call('ZREM', KEYS[1], id)
  local key = ARGV[1] .. id
  local record = redis.call('HMGET', key, 'state', 'epoch', 'lastRenewalMs')
  if record[1] == 'active' then
    redis.call('HSET', key, 'state', 'down', 'downAtMs', int(now))
    addEvent(KEYS[2], ARGV[3], now, 'container_down', id, record[2], '', '{"lastRenewalMs":' .. record[3] .. '}')
    table.insert(down, id)
  end
end
return down
`,
};
