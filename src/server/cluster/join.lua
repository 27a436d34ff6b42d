-- KEYS[1] room hash, KEYS[2] own rooms set; ARGV id, server, name, capacity, room, prefix.
local mine = redis.call('HGET', KEYS[1], ARGV[1])
if mine then
  -- This server's own earlier try, whose answer was lost: seated already, and told.
  local seq = string.match(mine, '^(%d+) ')
  if holder_of(mine) ~= ARGV[2] then return {'taken'} end
  return seats({'seated', seq}, KEYS[1], ARGV[1])
end
local taken = redis.call('HLEN', KEYS[1])
if taken > 0 then taken = taken - 1 end
if taken >= tonumber(ARGV[4]) then return {'full'} end
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
redis.call('PERSIST', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[5])
-- Room keys are letters, digits, - and _, servers hex, ids digits: only the name needs
-- escaping.
tell(ARGV[6], KEYS[1], ARGV[2], '{"kind":"joined","room":"' .. ARGV[5] .. '","peer":{"id":'
  .. ARGV[1] .. ',"name":' .. cjson.encode(ARGV[3]) .. '},"seq":' .. seq .. ',"server":"'
  .. ARGV[2] .. '"}')
return seats({'seated', tostring(seq)}, KEYS[1], ARGV[1])
