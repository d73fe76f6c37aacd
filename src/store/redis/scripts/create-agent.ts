import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Creates an agent record if none has its id, stamped with the Redis clock, with the watermark at
 * '0-0' and no turns. Whatever an earlier agent of the same id left is cleared first (nothing
 * should be there: deleteAgent removes it all in one step).
 *
 * KEYS[1] agent hash
 * KEYS[2] agent state string
 * KEYS[3] mailbox stream
 * KEYS[4] last reply hash
 *
 * ARGV[1…] the record's fields (id type name config placement state owner epoch [error]) as
 *          field, value pairs
 *
 * Returns {1, owner} when created, {0, owner} when the id exists (its current owner, '' if none:
 * the caller writes the derived indexes from it either way, so a retry repairs them).
 */
export const createAgent: LuaScript = {
  name: 'flotillaCreateAgent',
  numberOfKeys: 4,
  lua: `${LUA_HELPERS}
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner then return {0, owner} end
local now = int(nowMs())
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4])
redis.call('HSET', KEYS[1], 'lastHandled', '0-0', 'turns', 0, 'createdAtMs', now, 'updatedAtMs', now, unpack(ARGV))
return {1, redis.call('HGET', KEYS[1], 'owner')}
`,
};
