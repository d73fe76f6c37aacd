import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Appends an event to the capped event log, stamped with the Redis clock.
 *
 * KEYS[1] events stream
 *
 * ARGV[1] events max length
 * ARGV[2] event type
 * ARGV[3] container id, or ''
 * ARGV[4] epoch, or ''
 * ARGV[5] manager id, or ''
 * ARGV[6] data (JSON)
 *
 * Returns {event id, atMs}.
 */
export const appendEvent: LuaScript = {
  name: 'flotillaAppendEvent',
  numberOfKeys: 1,
  lua: `${LUA_HELPERS}
local now = nowMs()
local id = addEvent(KEYS[1], ARGV[1], now, ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return {id, int(now)}
`,
};
