-- KEYS[1] room hash, KEYS[2] own rooms set; ARGV id, server, room, prefix.
local seat = redis.call('HGET', KEYS[1], ARGV[1])
if not seat then return {'gone'} end
local seq, holder, rest = string.match(seat, '^(%d+) (%S+) (.*)$')
local name = string.match(rest, '^%S+ (.*)$')
redis.call('SADD', KEYS[2], ARGV[3])
if holder == ARGV[2] then
  -- Here already (an earlier try whose answer was lost): nothing changes.
  local now = redis.call('HGET', KEYS[1], '#seq')
  return seats({'resumed', seq, now, holder, name}, KEYS[1], ARGV[1])
end
local change = redis.call('HINCRBY', KEYS[1], '#seq', 1)
redis.call('HSET', KEYS[1], ARGV[1], seq .. ' ' .. ARGV[2] .. ' ' .. rest)
tell(ARGV[4], KEYS[1], ARGV[2], '{"kind":"moved","room":"' .. ARGV[3] .. '","peer":'
  .. ARGV[1] .. ',"server":"' .. ARGV[2] .. '","seq":' .. change .. '}', holder)
local holder_stays = false
for _, record in ipairs(redis.call('HVALS', KEYS[1])) do
  if holder_of(record) == holder then holder_stays = true end
end
if not holder_stays then
  redis.call('SREM', ARGV[4] .. ':rooms:' .. holder, ARGV[3])
end
return seats({'resumed', seq, tostring(change), holder, name}, KEYS[1], ARGV[1])
