import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Extends a container's lease, only for its current epoch and only while it is `active`: a
 * container declared down must re-register, it cannot quietly come back.
 *
 * KEYS[1] container hash
 * KEYS[2] leases sorted set   id -> deadline ms
 *
 * ARGV[1] container id
 * ARGV[2] epoch of the caller's registration
 * ARGV[3] lease timeout ms
 * ARGV[4] the Redis CLIENT ID of the renewing connection ('' when unknown): the session that
 *         `suspectLeases` checks is still connected
 *
 * Returns {1, deadline ms} on success, or {0, reason} with reason 'unknown' | 'stale_epoch' | 'down'.
 */
export const renewLease: LuaScript = {
  name: 'flotillaRenewLease',
  numberOfKeys: 2,
  lua: `${LUA_HELPERS}
local record = redis.call('HMGET', KEYS[1], 'epoch', 'state')
if not record[1] then return {0, 'unknown'} end
if record[1] ~= ARGV[2] then return {0, 'stale_epoch'} end
if record[2] ~= 'active' then return {0, 'down'} end
local now = nowMs()
local deadline = now + tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'lastRenewalMs', int(now), 'session', ARGV[4])
redis.call('ZADD', KEYS[2], int(deadline), ARGV[1])
return {1, int(deadline)}
`,
};
