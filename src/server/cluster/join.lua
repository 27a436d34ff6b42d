local seats = redis.call('HLEN', KEYS[1])
if seats > 0 then seats = seats - 1 end
if seats >= tonumber(ARGV[4]) then return {'full'} end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return {'taken'} end
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
redis.call('SADD', KEYS[2], ARGV[5])
local out = {'seated', tostring(seq)}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '#seq' and all[i] ~= ARGV[1] then
    table.insert(out, all[i])
    table.insert(out, all[i + 1])
  end
end
return out
