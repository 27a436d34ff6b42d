-- KEYS[1] room hash; ARGV host's id, new host's id, server, room, prefix.
local refused = refuse_host_command(KEYS[1], ARGV[1], ARGV[2], ARGV[3])
if refused then return refused end
redis.call('SET', KEYS[1] .. ':host', ARGV[2])
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
tell(ARGV[5], KEYS[1], ARGV[3],
  news('host', ARGV[4], {{'peer', num(ARGV[2])}, {'seq', num(seq)}}))
return reply('done', {{'seq', num(seq)}})
