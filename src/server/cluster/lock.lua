-- KEYS[1] room hash; ARGV host's id, '1' to lock or '0' to unlock, server, room, prefix.
local refused = refuse_host(KEYS[1], ARGV[1], ARGV[3])
if refused then return refused end
local locked = ARGV[2] == '1'
if locked then
  redis.call('SET', KEYS[1] .. ':locked', '1')
else
  -- Whoever waits at the door still waits: the host answers them.
  redis.call('DEL', KEYS[1] .. ':locked')
end
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
tell(ARGV[5], KEYS[1], ARGV[3],
  news('locked', ARGV[4], {{'locked', locked}, {'seq', num(seq)}}))
return reply('done', {{'seq', num(seq)}})
