import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Moves an agent: sets its fence (owner and epoch) and its lifecycle state together, so the old
 * owner's commits are refused from this step on. A state other than `failed` clears `error`.
 *
 * KEYS[1] agent hash
 *
 * ARGV[1] new owner (container id), '' to unplace
 * ARGV[2] new epoch, '0' to unplace
 * ARGV[3] lifecycle state
 *
 * Returns {previous owner, field, value, …} (the new record), or {} when the agent is unknown.
 */
export const assignAgent: LuaScript = {
  name: 'flotillaAssignAgent',
  numberOfKeys: 1,
  lua: `${LUA_HELPERS}
local previous = redis.call('HGET', KEYS[1], 'owner')
if not previous then return {} end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', ARGV[2], 'state', ARGV[3], 'updatedAtMs', int(nowMs()))
if ARGV[3] ~= 'failed' then redis.call('HDEL', KEYS[1], 'error') end
local record = redis.call('HGETALL', KEYS[1])
table.insert(record, 1, previous)
return record
`,
};
