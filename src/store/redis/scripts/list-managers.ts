import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Prunes managers whose presence deadline has passed, then returns the others.
 *
 * KEYS[1] manager deadlines sorted set   id -> deadline ms
 *
 * ARGV[1] manager hash key prefix (the key is prefix .. id; same `{c}` slot as KEYS[1])
 *
 * Returns one HGETALL field/value array per live manager (empty if its hash is gone).
 */
export const listManagers: LuaScript = {
  name: 'flotillaListManagers',
  numberOfKeys: 1,
  lua: `${LUA_HELPERS}
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', int(nowMs()))
for _, id in ipairs(expired) do
  redis.call('ZREM', KEYS[1], id)
  redis.call('DEL', ARGV[1] .. id)
end
local out = {}
for _, id in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  table.insert(out, redis.call('HGETALL', ARGV[1] .. id))
end
return out
`,
};
