import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * An operator removing a container record: refused while the container is `active` unless
 * forced. Logs `container_removed` with the state it had. The epoch counter is kept.
 *
 * KEYS[1] container hash
 * KEYS[2] containers set
 * KEYS[3] leases sorted set
 * KEYS[4] events stream
 *
 * ARGV[1] container id
 * ARGV[2] '1' to remove even an active container, '0' otherwise
 * ARGV[3] events max length
 *
 * Returns {'ok', field, value, …} (the removed record), {'not_found'} or {'active'}.
 */
export const removeContainer: LuaScript = {
  name: 'flotillaRemoveContainer',
  numberOfKeys: 4,
  lua: `${LUA_HELPERS}
local record = redis.call('HGETALL', KEYS[1])
if #record == 0 then return {'not_found'} end
local state = redis.call('HGET', KEYS[1], 'state')
if state == 'active' and ARGV[2] ~= '1' then return {'active'} end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
addEvent(KEYS[4], ARGV[3], nowMs(), 'container_removed', ARGV[1], epoch, '', cjson.encode({state = state}))
table.insert(record, 1, 'ok')
return record
`,
};
