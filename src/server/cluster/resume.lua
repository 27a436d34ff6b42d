local seat = redis.call('HGET', KEYS[1], ARGV[1])
if not seat then return {'gone'} end
local seq, holder, name = string.match(seat, '^(%d+) (%S+) (.*)$')
redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. name)
redis.call('SADD', KEYS[2], ARGV[3])
local out = {'resumed', seq, holder, name}
local holder_stays = false
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= '#seq' and all[i] ~= ARGV[1] then
    table.insert(out, all[i])
    table.insert(out, all[i + 1])
    if string.match(all[i + 1], '^%d+ (%S+) ') == holder then holder_stays = true end
  end
end
if not holder_stays and holder ~= ARGV[2] then
  redis.call('SREM', ARGV[4] .. ':rooms:' .. holder, ARGV[3])
end
return out
