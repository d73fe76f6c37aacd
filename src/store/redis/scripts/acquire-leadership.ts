import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Takes the leader lease if nobody holds it, or extends it if the caller does. Each take is a
 * new term (the counter only grows) and logs `leader_elected`; an extension keeps the term.
 *
 * KEYS[1] leader string (the holder's id, expiring with PX)
 * KEYS[2] term counter
 * KEYS[3] events stream
 * KEYS[4] leader session string (same expiry as KEYS[1])
 *
 * ARGV[1] manager id
 * ARGV[2] lease ttl ms
 * ARGV[3] events max length
 * ARGV[4] the caller's Redis session (CLIENT ID; '' when unknown): recorded with every take and
 *         extension, so standbys can tell when the leader's connection is gone
 *
 * Returns {isLeader 1|0, leader id, term}.
 */
export const acquireLeadership: LuaScript = {
  name: 'flotillaAcquireLeadership',
  numberOfKeys: 4,
  lua: `${LUA_HELPERS}
local function recordSession()
  if ARGV[4] == '' then redis.call('DEL', KEYS[4]) else redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[2]) end
end
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  recordSession()
  return {1, holder, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
if holder then
  return {0, holder, tonumber(redis.call('GET', KEYS[2]) or '0')}
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
recordSession()
local term = redis.call('INCR', KEYS[2])
addEvent(KEYS[3], ARGV[3], nowMs(), 'leader_elected', '', '', ARGV[1], '{"term":' .. int(term) .. '}')
return {1, ARGV[1], term}
`,
};
