-- KEYS[1] room hash, KEYS[2] own rooms set; ARGV id, server, room, prefix.
local seat = redis.call('HGET', KEYS[1], ARGV[1])
-- Freed already: by an earlier try whose answer was lost, or by the sweep.
if not seat then return reply('gone') end
local holder = holder_of(seat)
if holder ~= ARGV[2] then return reply('elsewhere', {{'holder', holder}}) end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1] .. ':gen', ARGV[1])
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
tell(ARGV[4], KEYS[1], ARGV[2],
  news('left', ARGV[3], {{'peer', num(ARGV[1])}, {'seq', num(seq)}}))
local still_here = false
for _, record in ipairs(redis.call('HVALS', KEYS[1])) do
  if holder_of(record) == ARGV[2] then still_here = true end
end
if not still_here then redis.call('SREM', KEYS[2], ARGV[3]) end
emptied(KEYS[1])
return reply('freed', {{'seq', num(seq)}})
