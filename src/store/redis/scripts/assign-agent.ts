import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Moves an agent: sets its fence (owner and epoch) and its lifecycle state together, so the old
 * owner's commits are refused from this step on. A state other than `failed` clears `error`.
 * With ARGV[4] '1', the same step deletes the agent's state and last reply (a fresh start on the
 * new owner), keeping the mailbox and the watermark; the old owner cannot write state afterwards,
 * because its commit is checked against the new fence.
 *
 * KEYS[1] agent hash
 * KEYS[2] agent state string
 * KEYS[3] last reply hash
 *
 * ARGV[1] new owner (container id), '' to unplace
 * ARGV[2] new epoch, '0' to unplace
 * ARGV[3] lifecycle state
 * ARGV[4] '1' to reset the state (delete KEYS[2] and KEYS[3]), '0' to keep it
 *
 * Returns {previous owner, field, value, …} (the new record), or {} when the agent is unknown.
 */
export const assignAgent: LuaScript = {
  name: 'flotillaAssignAgent',
  numberOfKeys: 3,
  lua: `${LUA_HELPERS}
local previous = redis.call('HGET', KEYS[1], 'owner')
if not previous then return {} end
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'epoch', ARGV[2], 'state', ARGV[3], 'updatedAtMs', int(nowMs()))
if ARGV[3] ~= 'failed' then redis.call('HDEL', KEYS[1], 'error') end
if ARGV[4] == '1' then redis.call('DEL', KEYS[2], KEYS[3]) end
local record = redis.call('HGETALL', KEYS[1])
table.insert(record, 1, previous)
return record
`,
};
