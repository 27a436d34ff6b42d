-- KEYS[1] room hash; ARGV knock id, room, prefix. The knock's wait ended on its server
-- (given up, closed, expired): it leaves the list, and the host's server is told
-- (`knock_ended`). Once is enough: a second call changes nothing.
redis.call('HDEL', KEYS[1] .. ':admitted', ARGV[1])
if redis.call('HDEL', KEYS[1] .. ':knocks', ARGV[1]) == 0 then return 0 end
tell_host(ARGV[3], KEYS[1], news('knock_ended', ARGV[2], {{'knock', num(ARGV[1])}}))
return 1
