import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Marks `down` the given containers whose Redis session is gone, if nothing changed since they
 * were found suspect: still `active`, same session, lease still within the window. Logs
 * `container_down` with reason `disconnected`.
 *
 * KEYS[1] leases sorted set
 * KEYS[2] events stream
 *
 * ARGV[1] container hash key prefix
 * ARGV[2] window ms
 * ARGV[3] events max length
 * ARGV[4…] id, session pairs
 *
 * Returns the ids marked down.
 */
export const markDisconnected: LuaScript = {
  name: 'flotillaMarkDisconnected',
  numberOfKeys: 2,
  lua: `${LUA_HELPERS}
local now = nowMs()
local horizon = now + tonumber(ARGV[2])
local down = {}
for i = 4, #ARGV, 2 do
  local id, session = ARGV[i], ARGV[i + 1]
  local key = ARGV[1] .. id
  local record = redis.call('HMGET', key, 'state', 'session', 'epoch', 'lastRenewalMs')
  local deadline = redis.call('ZSCORE', KEYS[1], id)
  if record[1] == 'active' and record[2] == session and deadline and tonumber(deadline) < horizon then
    redis.call('ZREM', KEYS[1], id)
    redis.call('HSET', key, 'state', 'down', 'downAtMs', int(now))
    addEvent(KEYS[2], ARGV[3], now, 'container_down', id, record[3], '', '{"reason":"disconnected","lastRenewalMs":' .. record[4] .. '}')
    table.insert(down, id)
  end
end
return down
`,
};
