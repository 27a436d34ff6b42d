-- The records every script reads and writes, each with one parser and one encoder here
-- (their Rust twins are in record.rs: `Listed` and `Holder`; the knock's in `Store::knocks`).
--
-- A seat, `<seq> <holder> <fold> <name>`: the room's change number that seated it; the
-- server holding it (hex), or `~<ms>` when it is held for nobody until then (Redis's
-- clock); the name's folded form (hex); and the name, which may hold spaces.
local function parse_seat(record)
  local seq, holder, fold, name = string.match(record, '^(%d+) (%S+) (%S+) (.*)$')
  if not seq then return nil end
  return {seq = seq, holder = holder, fold = fold, name = name}
end
local function seat_record(seat)
  return seat.seq .. ' ' .. seat.holder .. ' ' .. seat.fold .. ' ' .. seat.name
end

-- A knock at a locked room's door, `<server> <name>`: where the person waits, and their
-- name.
local function parse_knock(record)
  local server, name = string.match(record, '^(%S+) (.*)$')
  return {server = server, name = name}
end
local function knock_record(server, name)
  return server .. ' ' .. name
end
