import { LUA_HELPERS } from './lua-helpers.js';
import type { LuaScript } from './lua-script.js';

/**
 * Accepts a message into an agent's mailbox, once per message id: the dedup key remembers the
 * entry id for the dedup TTL, and a retry of the same id appends nothing and gets that id back
 * (even after the entry was handled and trimmed). Refused when the agent does not exist.
 *
 * KEYS[1] agent hash
 * KEYS[2] dedup string (of this message id)
 * KEYS[3] mailbox stream
 *
 * ARGV[1]  dedup ttl ms
 * ARGV[2…] the entry's fields (messageId kind from body [replyTo traceparent deadlineMs topic])
 *          as field, value pairs; the script adds acceptedAtMs (Redis clock)
 *
 * Returns {'ok', entry id, owner}, {'duplicate', first entry id, owner} or {'no_agent'}; owner is
 * the agent's `owner` field ('' while unplaced), so the sender knows whom to ring.
 */
export const appendMessage: LuaScript = {
  name: 'flotillaAppendMessage',
  numberOfKeys: 3,
  lua: `${LUA_HELPERS}
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then return {'no_agent'} end
local first = redis.call('GET', KEYS[2])
if first then return {'duplicate', first, owner} end
local id = redis.call('XADD', KEYS[3], '*', 'acceptedAtMs', int(nowMs()), unpack(ARGV, 2))
redis.call('SET', KEYS[2], id, 'PX', ARGV[1], 'NX')
return {'ok', id, owner}
`,
};
