/**
 * Lua functions prepended to the scripts that need them.
 *
 * nowMs(): epoch milliseconds from the Redis server clock (TIME). Every deadline and timestamp
 *   comes from here, so clock skew between hosts cannot shorten or stretch a lease. Redis 7
 *   replicates script effects, not the script, so TIME is allowed before writes.
 * int(n): an integer as plain digits; tostring() would print large numbers as 1.7e+12.
 * addEvent(key, maxLen, atMs, type, containerId, epoch, managerId, dataJson): XADD to the capped
 *   event log (MAXLEN ~ maxLen); empty containerId/epoch/managerId are left out. Returns the id.
 */
export const LUA_HELPERS = `
local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%.0f', n)
end

local function addEvent(key, maxLen, atMs, eventType, containerId, epoch, managerId, data)
  local fields = {'type', eventType, 'atMs', int(atMs), 'data', data}
  if containerId ~= '' then
    table.insert(fields, 'containerId')
    table.insert(fields, containerId)
  end
  if epoch ~= '' then
    table.insert(fields, 'epoch')
    table.insert(fields, epoch)
  end
  if managerId ~= '' then
    table.insert(fields, 'managerId')
    table.insert(fields, managerId)
  end
  return redis.call('XADD', key, 'MAXLEN', '~', maxLen, '*', unpack(fields))
end
`;

/**
 * Stream id helpers, for scripts that compare or step `<ms>-<seq>` ids (as numbers: as strings
 * '10-0' would sort before '9-5').
 *
 * cmpId(a, b): -1, 0 or 1 as id a is before, equal to or after id b. Ids are canonical decimal
 *   (no leading zeros), so a longer part is the larger number and parts of equal length compare
 *   as text: exact at any size, with no conversion to Lua's double. src/store/stream-id.ts has the
 *   same rule.
 * nextId(id): the smallest id after id (seq + 1; exact while seq < 2^53, which a stream never
 *   reaches). `XTRIM MINID` keeps entries >= its argument, so trimming to nextId(id) drops id too.
 */
export const STREAM_ID_HELPERS = `
local function cmpPart(a, b)
  if #a ~= #b then
    if #a < #b then return -1 end
    return 1
  end
  if a == b then return 0 end
  if a < b then return -1 end
  return 1
end

local function cmpId(a, b)
  local ams, aseq = string.match(a, '^(%d+)-(%d+)$')
  local bms, bseq = string.match(b, '^(%d+)-(%d+)$')
  local c = cmpPart(ams, bms)
  if c ~= 0 then return c end
  return cmpPart(aseq, bseq)
end

local function nextId(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms .. '-' .. string.format('%.0f', tonumber(seq) + 1)
end
`;
