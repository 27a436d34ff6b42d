local prefix, grace = ARGV[1], tonumber(ARGV[2])
local now = now_ms()
local servers = redis.call('HGETALL', prefix .. ':servers')
for i = 1, #servers, 2 do
  local gone_at = tonumber(servers[i + 1])
  if gone_at < now then hold(prefix, servers[i], gone_at + grace) end
end
local freed = 0
for _, room in ipairs(redis.call('SMEMBERS', prefix .. ':held')) do
  local key = prefix .. ':room:' .. room
  local waiting = false
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local seat = all[i] ~= '#seq' and parse_seat(all[i + 1])
    local until_ms = seat and string.match(seat.holder, '^~(%d+)$')
    if until_ms then
      if tonumber(until_ms) <= now then
        redis.call('HDEL', key, all[i])
        redis.call('HDEL', key .. ':gen', all[i])
        local seq = redis.call('HINCRBY', key, '#seq', 1)
        tell(prefix, key, '', news('left', room, {{'peer', num(all[i])}, {'seq', num(seq)}}))
        freed = freed + 1
      else
        waiting = true
      end
    end
  end
  emptied(key)
  if not waiting then redis.call('SREM', prefix .. ':held', room) end
end
return freed
