-- Shared by the scripts that count a server gone. `hold` turns every seat `server`
-- holds into one held for nobody until `until_ms` (Redis's clock): any server may
-- resume it meanwhile, and the sweep frees it after.
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function hold(prefix, server, until_ms)
  local rooms_key = prefix .. ':rooms:' .. server
  for _, room in ipairs(redis.call('SMEMBERS', rooms_key)) do
    local key = prefix .. ':room:' .. room
    local all = redis.call('HGETALL', key)
    for i = 1, #all, 2 do
      if all[i] ~= '#seq' then
        local seat = parse_seat(all[i + 1])
        if seat and seat.holder == server then
          seat.holder = '~' .. until_ms
          redis.call('HSET', key, all[i], seat_record(seat))
          redis.call('SADD', prefix .. ':held', room)
        end
      end
    end
  end
  redis.call('DEL', rooms_key)
  redis.call('HDEL', prefix .. ':servers', server)
end
