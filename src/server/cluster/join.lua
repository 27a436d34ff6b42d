-- KEYS[1] room hash, KEYS[2] own rooms set; ARGV id, server, capacity, room, prefix,
-- knock id, let in ('1': the host admitted that knock), may knock ('1' unless this
-- server's limits for the person's address say no), most knocks, then the names the
-- person may take, each with its folded form (hex): the first whose folded form no seat
-- has is theirs.
local locked = redis.call('EXISTS', KEYS[1] .. ':locked')
local function seated(seq, name)
  return reply('seated', {{'seq', num(seq)}, {'name', name}, {'host', num(host_of(KEYS[1]))},
    {'locked', locked == 1}, {'others', seats(KEYS[1], ARGV[1])}})
end
local mine = redis.call('HGET', KEYS[1], ARGV[1])
if mine then
  -- This server's own earlier try, whose answer was lost: seated already, and told.
  local seat = parse_seat(mine)
  if seat.holder ~= ARGV[2] then return reply('taken') end
  return seated(seat.seq, seat.name)
end
local let_in = ARGV[7] == '1' and redis.call('HDEL', KEYS[1] .. ':admitted', ARGV[6]) == 1
if locked == 1 and not let_in then
  -- At the door: listed, and the host's server told (`knock`), unless the list is full.
  local knocks = KEYS[1] .. ':knocks'
  if ARGV[7] == '1' or ARGV[8] ~= '1' or redis.call('HLEN', knocks) >= tonumber(ARGV[9])
  then
    return reply('locked')
  end
  local host = host_of(KEYS[1])
  local host_name = parse_seat(redis.call('HGET', KEYS[1], host)).name
  redis.call('HSET', knocks, ARGV[6], knock_record(ARGV[2], ARGV[10]))
  tell_host(ARGV[5], KEYS[1],
    news('knock', ARGV[4], {{'knock', num(ARGV[6])}, {'name', ARGV[10]}}))
  return reply('knocking', {{'host_name', host_name}})
end
local taken = redis.call('HLEN', KEYS[1])
if taken > 0 then taken = taken - 1 end
if taken >= tonumber(ARGV[3]) then return reply('full') end
local folds = {}
for _, record in ipairs(redis.call('HVALS', KEYS[1])) do
  local seat = parse_seat(record)
  if seat then folds[seat.fold] = true end
end
local name, fold
for i = 10, #ARGV - 1, 2 do
  if not folds[ARGV[i + 1]] then
    name, fold = ARGV[i], ARGV[i + 1]
    break
  end
end
-- More people of that name than the room holds: cannot be, but never two alike.
if not name then return reply('full') end
local seq = redis.call('HINCRBY', KEYS[1], '#seq', 1)
redis.call('HSET', KEYS[1], ARGV[1],
  seat_record({seq = seq, holder = ARGV[2], fold = fold, name = name}))
redis.call('PERSIST', KEYS[1])
-- A new seat's first token is its join's (a stale generation of the id would refuse it).
redis.call('HDEL', KEYS[1] .. ':gen', ARGV[1])
redis.call('SADD', KEYS[2], ARGV[4])
tell(ARGV[5], KEYS[1], ARGV[2], news('joined', ARGV[4], {
  {'peer', {{'id', num(ARGV[1])}, {'name', name}}}, {'seq', num(seq)}, {'server', ARGV[2]}}))
return seated(seq, name)
