import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * A container leaving on its own: removes its record and lease if the epoch is still current
 * (an older incarnation must not remove a newer one), and logs `container_left`.
 *
 * KEYS[1] container hash
 * KEYS[2] containers set
 * KEYS[3] leases sorted set
 * KEYS[4] events stream
 *
 * ARGV[1] container id
 * ARGV[2] epoch of the caller's registration
 * ARGV[3] events max length
 *
 * Returns 1 when removed, 0 when the container is unknown or the epoch is not current.
 */
export const deregisterContainer: LuaScript = {
  name: 'flotillaDeregisterContainer',
  numberOfKeys: 4,
  lua: `${LUA_HELPERS}
if redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
addEvent(KEYS[4], ARGV[3], nowMs(), 'container_left', ARGV[1], ARGV[2], '', '{}')
return 1
`,
};
