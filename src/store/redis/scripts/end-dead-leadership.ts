import type { LuaScript } from './lua-script.js';

/**
 * Ends the lease of a leader whose Redis session is gone (its process died), so that a standby
 * can take over at once instead of waiting out the lease. Only if nothing changed since the caller
 * looked: same holder, same recorded session.
 *
 * KEYS[1] leader string
 * KEYS[2] leader session string
 *
 * ARGV[1] the leader's manager id
 * ARGV[2] the session it last renewed on
 *
 * Returns 1 when the lease was ended, 0 otherwise.
 */
export const endDeadLeadership: LuaScript = {
  name: 'flotillaEndDeadLeadership',
  numberOfKeys: 2,
  lua: `
if redis.call('GET', KEYS[1]) ~= ARGV[1] or redis.call('GET', KEYS[2]) ~= ARGV[2] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
`,
};
