local seat = redis.call('HGET', KEYS[1], ARGV[1])
if not seat then return {'gone'} end
local holder = string.match(seat, '^%d+ (%S+) ')
if holder ~= ARGV[2] then return {'elsewhere', holder} end
redis.call('HDEL', KEYS[1], ARGV[1])
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
local out = {'left', tostring(seq)}
local all = redis.call('HGETALL', KEYS[1])
if #all <= 2 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[2], ARGV[3])
  return out
end
local seen = {}
for i = 1, #all, 2 do
  if all[i] ~= '#seq' then
    local other = string.match(all[i + 1], '^%d+ (%S+) ')
    if not seen[other] then
      seen[other] = true
      table.insert(out, other)
    end
  end
end
if not seen[ARGV[2]] then redis.call('SREM', KEYS[2], ARGV[3]) end
return out
