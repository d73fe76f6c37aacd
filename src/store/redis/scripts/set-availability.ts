import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Sets a container's availability (schedulable / cordoned / draining) and logs the matching
 * event, only when it changes, so a repeated cordon does not flood the event log.
 *
 * KEYS[1] container hash
 * KEYS[2] events stream
 *
 * ARGV[1] container id
 * ARGV[2] the new availability
 * ARGV[3] the event type to log for it
 * ARGV[4] events max length
 *
 * Returns the record as HGETALL field/value pairs; empty when the container is unknown.
 */
export const setAvailability: LuaScript = {
  name: 'flotillaSetAvailability',
  numberOfKeys: 2,
  lua: `${LUA_HELPERS}
local from = redis.call('HGET', KEYS[1], 'availability')
if not from then return {} end
if from ~= ARGV[2] then
  redis.call('HSET', KEYS[1], 'availability', ARGV[2])
  local epoch = redis.call('HGET', KEYS[1], 'epoch')
  addEvent(KEYS[2], ARGV[4], nowMs(), ARGV[3], ARGV[1], epoch, '', cjson.encode({from = from}))
end
return redis.call('HGETALL', KEYS[1])
`,
};
