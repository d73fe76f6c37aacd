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
