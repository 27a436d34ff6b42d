-- Shared by the scripts that change seats. Each tells the other servers of its change
-- itself, in the same atomic step: a change whose answer is lost is never one that
-- nobody heard of, and every server hears of a room's changes in their order.

-- The holder in a seat record (`<seq> <holder> <fold> <name>`).
local function holder_of(record)
  return string.match(record, '^%d+ (%S+) ')
end

-- Publishes `news` once to the server of each seat in room hash `key`, and to `also`,
-- but not to `except` (the server making the change, which knows) nor to seats held for
-- nobody (`~<ms>`), which have no server.
local function tell(prefix, key, except, news, also)
  local told = {[except] = true}
  local function to(holder)
    if holder and not told[holder] and string.sub(holder, 1, 1) ~= '~' then
      told[holder] = true
      redis.call('PUBLISH', prefix .. ':server:' .. holder, news)
    end
  end
  to(also)
  for _, record in ipairs(redis.call('HVALS', key)) do
    to(holder_of(record))
  end
end

-- Appends every seat of room hash `key` but `except` to `out`, as id, record.
local function seats(out, key, except)
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if all[i] ~= '#seq' and all[i] ~= except then
      table.insert(out, all[i])
      table.insert(out, all[i + 1])
    end
  end
  return out
end

-- A room without seats keeps its counter for a while, so that numbers never repeat for
-- a server that still has a view of it; the hash goes once that long has passed. Its
-- seats' token generations (`<key>:gen`) and its chosen host (`<key>:host`) go with the
-- seats.
local function emptied(key)
  if redis.call('HLEN', key) <= 1 then
    redis.call('PEXPIRE', key, 3600000)
    redis.call('DEL', key .. ':gen', key .. ':host')
    return true
  end
  return false
end

-- The host of room hash `key`: the seat the host chose (`<key>:host`) while it is there,
-- else the seat taken earliest (every server's view finds the same from its seats).
local function host_of(key)
  local chosen = redis.call('GET', key .. ':host')
  if chosen and redis.call('HEXISTS', key, chosen) == 1 then return chosen end
  local host, first
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if all[i] ~= '#seq' then
      local seq = tonumber(string.match(all[i + 1], '^(%d+) '))
      if seq and (not first or seq < first) then host, first = all[i], seq end
    end
  end
  return host
end

-- Whether the host command of seat ARGV[1] (held by server ARGV[3]) about seat ARGV[2]
-- of room hash `key` may run: nil if so, else the refusal.
local function refuse_host_command(key)
  local mine = redis.call('HGET', key, ARGV[1])
  if not mine or holder_of(mine) ~= ARGV[3] then return {'not_joined'} end
  if host_of(key) ~= ARGV[1] then return {'not_host'} end
  if ARGV[2] == ARGV[1] or redis.call('HEXISTS', key, ARGV[2]) == 0 then
    return {'unknown_peer'}
  end
  return nil
end
