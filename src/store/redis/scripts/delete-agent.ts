import type { LuaScript } from './lua-script.js';

/**
 * Removes an agent and everything in its slot but the dedup keys (they expire on their own; a
 * retry of a message accepted before the delete is still answered as a duplicate until then).
 *
 * KEYS[1] agent hash
 * KEYS[2] agent state string
 * KEYS[3] mailbox stream
 * KEYS[4] last reply hash
 *
 * Returns {1, owner} ('' if unplaced: the caller then removes it from the derived indexes), or
 * {0} when the agent did not exist.
 */
export const deleteAgent: LuaScript = {
  name: 'flotillaDeleteAgent',
  numberOfKeys: 4,
  lua: `
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return {0} end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return {1, owner}
`,
};
