import { LUA_HELPERS, STREAM_ID_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * The end of a turn, in one atomic step: checks the fence and that the entry is the next unhandled
 * one, then writes the agent's state, advances the watermark, counts the turn, remembers the reply
 * (or forgets the previous one) and trims the handled entries. Nothing is written on refusal.
 *
 * Checks, in order: the agent exists ('no_agent'); owner ('not_owner'; an unplaced agent has
 * owner ''); epoch ('stale_epoch', older or newer); entry id after the watermark, compared as
 * numbers ('duplicate': a redelivery has no second effect); the first entry after the watermark is
 * this one ('out_of_order': a turn may not skip an entry, nor commit one that is not there).
 *
 * KEYS[1] agent hash          owner, epoch, lastHandled, turns, updatedAtMs
 * KEYS[2] agent state string
 * KEYS[3] mailbox stream
 * KEYS[4] last reply hash     entryId, inbox, ref, body
 *
 * ARGV[1] owner (container id)
 * ARGV[2] epoch
 * ARGV[3] entry id
 * ARGV[4] '1' to write the state, '0' to leave it
 * ARGV[5] the state (JSON text), or ''
 * ARGV[6] '1' to remember a reply, '0' for none
 * ARGV[7] reply inbox, or ''
 * ARGV[8] reply ref, or ''
 * ARGV[9] reply body, or ''
 *
 * Returns 'ok', 'no_agent', 'not_owner', 'stale_epoch', 'duplicate' or 'out_of_order'.
 */
export const commitTurn: LuaScript = {
  name: 'flotillaCommitTurn',
  numberOfKeys: 4,
  lua: `${LUA_HELPERS}${STREAM_ID_HELPERS}
local agent = redis.call('HMGET', KEYS[1], 'owner', 'epoch', 'lastHandled')
if not agent[3] then return 'no_agent' end
if agent[1] ~= ARGV[1] then return 'not_owner' end
if agent[2] ~= ARGV[2] then return 'stale_epoch' end
if cmpId(ARGV[3], agent[3]) <= 0 then return 'duplicate' end
local following = redis.call('XRANGE', KEYS[3], '(' .. agent[3], '+', 'COUNT', 1)
if #following == 0 or following[1][1] ~= ARGV[3] then return 'out_of_order' end
if ARGV[4] == '1' then redis.call('SET', KEYS[2], ARGV[5]) end
redis.call('HSET', KEYS[1], 'lastHandled', ARGV[3], 'updatedAtMs', int(nowMs()))
redis.call('HINCRBY', KEYS[1], 'turns', 1)
redis.call('DEL', KEYS[4])
if ARGV[6] == '1' then
  redis.call('HSET', KEYS[4], 'entryId', ARGV[3], 'inbox', ARGV[7], 'ref', ARGV[8], 'body', ARGV[9])
end
redis.call('XTRIM', KEYS[3], 'MINID', nextId(ARGV[3]))
return 'ok'
`,
};
