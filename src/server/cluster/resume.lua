-- KEYS[1] room hash, KEYS[2] own rooms set; ARGV id, server, room, prefix, the token's
-- generation, the seat's next generation (both decimal strings: u64 epochs are compared as
-- text, as Lua's numbers would round them).
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return reply('gone') end
-- The seat (number `seq`) is here as of change `change`.
local function here(seq, change, name)
  return reply('here', {{'seq', num(seq)}, {'change', num(change)}, {'name', name},
    {'host', num(host_of(KEYS[1]))},
    {'locked', redis.call('EXISTS', KEYS[1] .. ':locked') == 1},
    {'others', seats(KEYS[1], ARGV[1])}})
end
local gens = KEYS[1] .. ':gen'
local gen = redis.call('HGET', gens, ARGV[1])
local seat = parse_seat(record)
local seq, holder, name = seat.seq, seat.holder, seat.name
if not (gen == ARGV[6] and holder == ARGV[2]) then
  -- (Else this server's earlier try, whose answer was lost: answered as it was.)
  -- No generation yet: no resume has happened, so the token is the join's, the only one.
  if gen and gen ~= ARGV[5] then return reply('used') end
  redis.call('HSET', gens, ARGV[1], ARGV[6])
end
redis.call('SADD', KEYS[2], ARGV[3])
if holder == ARGV[2] then
  -- Here already: the seat stays, and nobody else needs to hear of it.
  local now = redis.call('HGET', KEYS[1], '#seq')
  return here(seq, now, name)
end
local change = redis.call('HINCRBY', KEYS[1], '#seq', 1)
seat.holder = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], seat_record(seat))
tell(ARGV[4], KEYS[1], ARGV[2], news('moved', ARGV[3], {{'peer', num(ARGV[1])},
  {'server', ARGV[2]}, {'seq', num(change)}, {'gen', num(ARGV[6])}}), holder)
local holder_stays = false
for _, record in ipairs(redis.call('HVALS', KEYS[1])) do
  if holder_of(record) == holder then holder_stays = true end
end
if not holder_stays then
  redis.call('SREM', ARGV[4] .. ':rooms:' .. holder, ARGV[3])
end
return here(seq, change, name)
