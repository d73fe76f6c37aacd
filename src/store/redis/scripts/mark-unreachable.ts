import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Marks `down` the given late containers that did not answer the failure detector's probe, if
 * nothing changed since they were found late: still `active`, same epoch, and no renewal since
 * (same lastRenewalMs). Logs `container_down` with reason `unreachable`.
 *
 * KEYS[1] leases sorted set
 * KEYS[2] events stream
 *
 * ARGV[1] container hash key prefix
 * ARGV[2] events max length
 * ARGV[3…] id, epoch, lastRenewalMs triples
 *
 * Returns the ids marked down.
 */
export const markUnreachable: LuaScript = {
  name: 'flotillaMarkUnreachable',
  numberOfKeys: 2,
  lua: `${LUA_HELPERS}
local now = nowMs()
local down = {}
for i = 3, #ARGV, 3 do
  local id, epoch, last = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = ARGV[1] .. id
  local record = redis.call('HMGET', key, 'state', 'epoch', 'lastRenewalMs')
  if record[1] == 'active' and record[2] == epoch and record[3] == last then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HSET', key, 'state', 'down', 'downAtMs', int(now))
    addEvent(KEYS[2], ARGV[2], now, 'container_down', id, epoch, '', '{"reason":"unreachable","lastRenewalMs":' .. last .. '}')
    table.insert(down, id)
  end
end
return down
`,
};
