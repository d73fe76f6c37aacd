import type { LuaScript } from './lua-script.js';

/**
 * Writes fields of a resource only if the caller holds its fence: the same owner and the same
 * epoch as assigned. A container declared dead and re-registered elsewhere (a newer epoch) can
 * therefore not overwrite anything with its old epoch. Nothing is written on refusal.
 *
 * KEYS[1] fence hash   {owner, epoch}
 * KEYS[2] data hash
 *
 * ARGV[1]  owner (container id)
 * ARGV[2]  epoch
 * ARGV[3…] field, value pairs to write
 *
 * Returns 'ok', 'no_fence', 'not_owner' or 'stale_epoch'.
 */
export const fencedWrite: LuaScript = {
  name: 'flotillaFencedWrite',
  numberOfKeys: 2,
  lua: `
local fence = redis.call('HMGET', KEYS[1], 'owner', 'epoch')
if not fence[1] then return 'no_fence' end
if fence[1] ~= ARGV[1] then return 'not_owner' end
if fence[2] ~= ARGV[2] then return 'stale_epoch' end
-- One HSET per field: unpack() of a long argument list would overflow the Lua stack.
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
end
return 'ok'
`,
};
