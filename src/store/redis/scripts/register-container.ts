import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Registers (or re-registers) a container in one step: bumps the name's epoch, rewrites the
 * record as `active` (keeping a `cordoned`/`draining` availability an operator set), starts the
 * lease and logs `container_joined`.
 *
 * KEYS[1] epochs hash         name -> last epoch
 * KEYS[2] container hash      the record
 * KEYS[3] containers set      index of ids
 * KEYS[4] leases sorted set   id -> deadline ms
 * KEYS[5] events stream
 *
 * ARGV[1]  container id (= name)
 * ARGV[2]  lease timeout ms
 * ARGV[3]  events max length
 * ARGV[4]  event data (JSON)
 * ARGV[5…] the registration's record fields, as field, value pairs
 *
 * Returns the new record as HGETALL field/value pairs.
 */
export const registerContainer: LuaScript = {
  name: 'flotillaRegisterContainer',
  numberOfKeys: 5,
  lua: `${LUA_HELPERS}
local id = ARGV[1]
local now = nowMs()
local epoch = redis.call('HINCRBY', KEYS[1], id, 1)
local availability = redis.call('HGET', KEYS[2], 'availability')
if availability ~= 'cordoned' and availability ~= 'draining' then
  availability = 'schedulable'
end
-- Start from an empty hash: nothing of the previous incarnation (downAtMs) may linger.
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], 'state', 'active', 'availability', availability, 'epoch', int(epoch),
  'registeredAtMs', int(now), 'lastRenewalMs', int(now), unpack(ARGV, 5))
redis.call('SADD', KEYS[3], id)
redis.call('ZADD', KEYS[4], int(now + tonumber(ARGV[2])), id)
addEvent(KEYS[5], ARGV[3], now, 'container_joined', id, int(epoch), '', ARGV[4])
return redis.call('HGETALL', KEYS[2])
`,
};
