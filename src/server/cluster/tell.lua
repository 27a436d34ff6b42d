-- Shared by the scripts that change seats. Each tells the other servers of its change
-- itself, in the same atomic step: a change whose answer is lost is never one that
-- nobody heard of, and every server hears of a room's changes in their order.

-- An integer for an envelope (`news`): an id, a knock or a generation as the decimal text
-- Rust gave (up to 2^64, past what a Lua number holds exactly, so never made a number
-- here), or a change number Redis counted. Checked to be digits.
local function num(value)
  local text = value
  if type(value) == 'number' then text = string.format('%d', value) end
  if not string.match(text, '^%d+$') then error('not an integer: ' .. tostring(text)) end
  return {digits = text}
end

-- Writes the pairs of `fields` ({name, value} in order) into `parts`, as a JSON object's
-- members: strings and booleans through cjson, integers (`num`) as their digits, and a
-- list of pairs as an object.
local function members(fields, parts)
  for i, field in ipairs(fields) do
    if i > 1 then table.insert(parts, ',') end
    table.insert(parts, cjson.encode(field[1]) .. ':')
    local value = field[2]
    if type(value) == 'table' and value.digits then
      table.insert(parts, value.digits)
    elseif type(value) == 'table' then
      table.insert(parts, '{')
      members(value, parts)
      table.insert(parts, '}')
    else
      table.insert(parts, cjson.encode(value))
    end
  end
end

-- One envelope for another server (pubsub.rs's `Envelope`): its `kind`, its `room`, then
-- `fields`. Every script builds its envelopes here, never by hand.
local function news(kind, room, fields)
  local parts = {'{'}
  local all = {{'kind', kind}, {'room', room}}
  for _, field in ipairs(fields) do table.insert(all, field) end
  members(all, parts)
  table.insert(parts, '}')
  return table.concat(parts)
end

-- The holder in a seat record (`<seq> <holder> <fold> <name>`).
local function holder_of(record)
  local seat = parse_seat(record)
  return seat and seat.holder
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

-- A script's answer to the server that ran it (contract.rs's typed replies): `outcome`
-- and `fields`, one JSON object written as `news` writes envelopes.
local function reply(outcome, fields)
  local parts = {'{'}
  local all = {{'outcome', outcome}}
  for _, field in ipairs(fields or {}) do table.insert(all, field) end
  members(all, parts)
  table.insert(parts, '}')
  return table.concat(parts)
end

-- Every seat of room hash `key` but `except`, as {id, record} pairs (an object in a
-- `reply`).
local function seats(key, except)
  local out = {}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    if all[i] ~= '#seq' and all[i] ~= except then
      table.insert(out, {all[i], all[i + 1]})
    end
  end
  return out
end

-- A room without seats keeps its counter for a while, so that numbers never repeat for
-- a server that still has a view of it; the hash goes once that long has passed. Its
-- seats' token generations (`<key>:gen`) and its chosen host (`<key>:host`) go with the
-- seats.
--
-- Nobody is left to open a locked room's door: whoever waits there is told (`answered`,
-- `empty`), and the lock, the waiting list and the seats let in go too.
local function emptied(key)
  if redis.call('HLEN', key) <= 1 then
    redis.call('PEXPIRE', key, 3600000)
    local prefix, room = string.match(key, '^(.*):room:(.*)$')
    local knocks = redis.call('HGETALL', key .. ':knocks')
    for i = 1, #knocks, 2 do
      redis.call('PUBLISH', prefix .. ':server:' .. parse_knock(knocks[i + 1]).server,
        news('answered', room, {{'knock', num(knocks[i])}, {'verdict', 'empty'}}))
    end
    redis.call('DEL', key .. ':gen', key .. ':host', key .. ':locked', key .. ':knocks',
      key .. ':admitted')
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
      local seat = parse_seat(all[i + 1])
      local seq = seat and tonumber(seat.seq)
      if seq and (not first or seq < first) then host, first = all[i], seq end
    end
  end
  return host
end

-- A host script's refusal (contract.rs's `HostRefusal`), as its reply.
local function refusal(code)
  return reply('refused', {{'code', code}})
end

-- Whether seat `host` of room hash `key`, held by `server`, hosts it: nil if so, else
-- the refusal.
local function refuse_host(key, host, server)
  local mine = redis.call('HGET', key, host)
  if not mine or holder_of(mine) ~= server then return refusal('not_joined') end
  if host_of(key) ~= host then return refusal('not_host') end
  return nil
end

-- Whether the host command of seat `host` (held by `server`) about seat `peer` of room
-- hash `key` may run: nil if so, else the refusal.
local function refuse_host_command(key, host, peer, server)
  local refused = refuse_host(key, host, server)
  if refused then return refused end
  if peer == host or redis.call('HEXISTS', key, peer) == 0 then
    return refusal('unknown_peer')
  end
  return nil
end

-- Tells the server of room hash `key`'s host `news` (not if the host's seat is held for
-- nobody: the host's next server reads the waiting list when they are back).
local function tell_host(prefix, key, news)
  local host = host_of(key)
  if not host then return end
  local holder = holder_of(redis.call('HGET', key, host))
  if holder and string.sub(holder, 1, 1) ~= '~' then
    redis.call('PUBLISH', prefix .. ':server:' .. holder, news)
  end
end
