import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Records that a manager is alive until now + ttl: its presence hash (which also expires on its
 * own, so an abandoned one does not linger) and its deadline in a sorted set that listManagers
 * prunes.
 *
 * KEYS[1] manager hash
 * KEYS[2] manager deadlines sorted set   id -> deadline ms
 *
 * ARGV[1]  manager id
 * ARGV[2]  ttl ms
 * ARGV[3…] presence fields as field, value pairs
 *
 * Returns the presence's lastSeenMs.
 */
export const heartbeatManager: LuaScript = {
  name: 'flotillaHeartbeatManager',
  numberOfKeys: 2,
  lua: `${LUA_HELPERS}
local now = nowMs()
redis.call('HSET', KEYS[1], 'lastSeenMs', int(now), unpack(ARGV, 3))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], int(now + tonumber(ARGV[2])), ARGV[1])
return int(now)
`,
};
