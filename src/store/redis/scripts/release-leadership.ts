import type { LuaScript } from './lua-script.js';

/**
 * Gives up the leader lease, only if the caller holds it (compare and delete), so a manager whose
 * lease already passed to another cannot remove the new leader's.
 *
 * KEYS[1] leader string
 * KEYS[2] leader session string
 *
 * ARGV[1] manager id
 *
 * Returns 1 when released, 0 when the caller did not hold it.
 */
export const releaseLeadership: LuaScript = {
  name: 'flotillaReleaseLeadership',
  numberOfKeys: 2,
  lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`,
};
