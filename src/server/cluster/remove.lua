-- KEYS[1] room hash; ARGV host's id, removed person's id, server, room, prefix.
local refused = refuse_host_command(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if refused then return refused end
local holder = holder_of(redis.call('HGET', KEYS[1], ARGV[2]))
redis.call('HDEL', KEYS[1], ARGV[2])
redis.call('HDEL', KEYS[1] .. ':gen', ARGV[2])
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
-- Their server is told too (it closes their socket), unless it is this one.
tell(ARGV[5], KEYS[1], ARGV[3], news('left', ARGV[4],
  {{'peer', num(ARGV[2])}, {'seq', num(seq)}, {'removed_by', num(ARGV[1])}}), holder)
local holder_stays = false
for _, record in ipairs(redis.call('HVALS', KEYS[1])) do
  if holder_of(record) == holder then holder_stays = true end
end
if not holder_stays and string.sub(holder, 1, 1) ~= '~' then
  redis.call('SREM', ARGV[5] .. ':rooms:' .. holder, ARGV[4])
end
return reply('done', {{'seq', num(seq)}})
