-- KEYS[1] room hash; ARGV host's id, knock id, server, room, prefix, 'admit' or 'deny'.
local refused = refuse_host(KEYS[1], ARGV[1], ARGV[3])
if refused then return refused end
local knocks = KEYS[1] .. ':knocks'
local knock = redis.call('HGET', knocks, ARGV[2])
if not knock then return refusal('unknown_knock') end
redis.call('HDEL', knocks, ARGV[2])
local server = parse_knock(knock).server
-- Let in: the knock's server seats them, past the lock, once.
if ARGV[6] == 'admit' then redis.call('HSET', KEYS[1] .. ':admitted', ARGV[2], server) end
local by = parse_seat(redis.call('HGET', KEYS[1], ARGV[1])).name
-- The host's server hears the knock ended before the knock's server hears the answer, so
-- `knock_ended` reaches the host before the `peer_joined` the answer leads to.
tell_host(ARGV[5], KEYS[1], news('knock_ended', ARGV[4], {{'knock', num(ARGV[2])}}))
redis.call('PUBLISH', ARGV[5] .. ':server:' .. server, news('answered', ARGV[4],
  {{'knock', num(ARGV[2])}, {'verdict', ARGV[6]}, {'by', by}}))
return reply('done')
