import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * A lifecycle change that does not move the agent (e.g. active → failed), optionally fenced: then
 * only the current owner at its current epoch may make it. `error` is kept only with `failed`.
 *
 * KEYS[1] agent hash
 *
 * ARGV[1] lifecycle state
 * ARGV[2] '1' when fenced, '0' otherwise
 * ARGV[3] fence owner, or ''
 * ARGV[4] fence epoch, or ''
 * ARGV[5] '1' to set the error, '0' to keep it (failed) or clear it (any other state)
 * ARGV[6] the error, or ''
 *
 * Returns 1 when written, 0 when the agent is unknown or the fence does not match.
 */
export const setAgentState: LuaScript = {
  name: 'flotillaSetAgentState',
  numberOfKeys: 1,
  lua: `${LUA_HELPERS}
local agent = redis.call('HMGET', KEYS[1], 'owner', 'epoch')
if not agent[1] then return 0 end
if ARGV[2] == '1' and (agent[1] ~= ARGV[3] or agent[2] ~= ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'updatedAtMs', int(nowMs()))
if ARGV[5] == '1' then
  redis.call('HSET', KEYS[1], 'error', ARGV[6])
elseif ARGV[1] ~= 'failed' then
  redis.call('HDEL', KEYS[1], 'error')
end
return 1
`,
};
