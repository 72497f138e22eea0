"""The Lua scripts of the Redis backend: reserve and commit, each one atomic step on the server.

Redis runs a script to the end before any other command, so "check every budget, then hold" and
"record once, charge budgets, release the hold" cannot interleave with another client, on this
machine or any other. Amounts are integer nano-dollars passed and stored as strings (Lua numbers
are doubles: exact below 2**53 nano-dollars, about 9 million USD per budget window). All keys share
one hash tag (``{ledger}`` in the default prefix), so the scripts also run on Redis Cluster.

Keys: ``budgets`` hash id -> JSON {scope, key, period, limit_usd, limit_nano};
``spent`` hash ``<budget id>#<window>`` -> nano-dollars; ``holds`` hash id -> JSON {user, app,
task, model, nano, exp}; ``keys`` hash dedup key -> timestamp; ``entries`` sorted set of entry
JSON scored by epoch seconds.
"""

from __future__ import annotations

__all__ = ["COMMIT", "COMMIT_MANY", "GIVE_BACK", "RESERVE", "RESERVE_LEASED", "RESERVE_MANY"]

_COMMON = """
local function applies(b, user, app, task, m1, m2)
  local s = b.scope
  if s == 'global' then return true end
  if s == 'model' then return b.key == m1 or b.key == m2 end
  if s == 'user' then return b.key == user end
  if s == 'app' then return b.key == app end
  return b.key == task
end
-- The settle side's hook (see _lease_store.py): a plain hold is deleted; a lease share
-- 'lease-<hex>.<n>' lowers its lease by the call's cost (nano, '' when unpriced), and the lease
-- goes once nothing is left in it.
local function drop_hold(holds, id, nano)
  if string.sub(id, 1, 6) ~= 'lease-' then
    redis.call('HDEL', holds, id)
    return
  end
  local lease = string.match(id, '^([^.]+)')
  local raw = redis.call('HGET', holds, lease)
  if not raw then return end
  local h = cjson.decode(raw)
  local left = tonumber(h.nano) - tonumber(nano ~= '' and nano or '0')
  if left <= 0 then
    redis.call('HDEL', holds, lease)
  else
    h.nano = string.format('%.0f', left)
    redis.call('HSET', holds, lease, cjson.encode(h))
  end
end
-- At settle: a plain hold goes whether or not the entry is new; a lease is lowered only by an
-- entry recorded now (a replayed duplicate was charged to its lease the first time).
local function settle_hold(holds, id, nano, new)
  if id == '' then return end
  if new or string.sub(id, 1, 6) ~= 'lease-' then drop_hold(holds, id, nano) end
end
local function win(period, day, month)
  if period == 'day' then return day end
  if period == 'month' then return month end
  return 'all'
end
-- A hold of nano judged against each applicable budget's standing: nil when it fits (and it is
-- counted in st.held), else the refusal naming the first budget it would cross.
local function judge(st, applicable, nano)
  for _, b in ipairs(applicable) do
    if st.spent[b.id] + st.held[b.id] + nano > tonumber(b.limit_nano) then
      return {'refused', b.raw, string.format('%.0f', st.spent[b.id]),
              string.format('%.0f', st.held[b.id])}
    end
  end
  for _, b in ipairs(applicable) do st.held[b.id] = st.held[b.id] + nano end
  return nil
end
-- Every budget, decoded ({id, raw} added), for the reservation scripts.
local function load_budgets(key)
  local raw = redis.call('HGETALL', key)
  local budgets = {}
  for i = 1, #raw, 2 do
    local b = cjson.decode(raw[i + 1])
    b.id, b.raw = raw[i], raw[i + 1]
    budgets[#budgets + 1] = b
  end
  return budgets
end
-- What each applicable budget has spent and holds in its window, into st.spent / st.held: the
-- holds are read once per script (expired ones dropped), each budget summed on first use.
local function standing(st, applicable, holds_key, spent_key, now, day, month)
  if st.holds == nil then
    st.holds = {}
    local stored = redis.call('HGETALL', holds_key)
    for i = 1, #stored, 2 do
      local h = cjson.decode(stored[i + 1])
      if tonumber(h.exp) <= now then
        redis.call('HDEL', holds_key, stored[i])
      else
        st.holds[#st.holds + 1] = h
      end
    end
  end
  for _, b in ipairs(applicable) do
    if st.spent[b.id] == nil then
      local s = redis.call('HGET', spent_key, b.id .. '#' .. win(b.period, day, month))
      st.spent[b.id] = tonumber(s or '0')
      local total = 0
      for _, h in ipairs(st.holds) do
        if applies(b, h.user, h.app, h.task, h.model, h.model) then
          total = total + tonumber(h.nano)
        end
      end
      st.held[b.id] = total
    end
  end
end
"""

RESERVE = (
    _COMMON
    + """
-- KEYS: budgets, spent, holds
-- ARGV: now, hold id, nano, expires, user, app, task, model, day window, month window
local raw = redis.call('HGETALL', KEYS[1])
if #raw == 0 then return {'free'} end
local now, nano = tonumber(ARGV[1]), tonumber(ARGV[3])
local user, app, task, model = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local applicable = {}
for i = 1, #raw, 2 do
  local b = cjson.decode(raw[i + 1])
  b.id, b.raw = raw[i], raw[i + 1]
  if applies(b, user, app, task, model, model) then applicable[#applicable + 1] = b end
end
if #applicable == 0 then return {'free'} end
local holds = {}
local stored = redis.call('HGETALL', KEYS[3])
for i = 1, #stored, 2 do
  local h = cjson.decode(stored[i + 1])
  if tonumber(h.exp) <= now then
    redis.call('HDEL', KEYS[3], stored[i])
  else
    holds[#holds + 1] = h
  end
end
for _, b in ipairs(applicable) do
  local spent = redis.call('HGET', KEYS[2], b.id .. '#' .. win(b.period, ARGV[9], ARGV[10]))
  spent = tonumber(spent or '0')
  local held = 0
  for _, h in ipairs(holds) do
    if applies(b, h.user, h.app, h.task, h.model, h.model) then held = held + tonumber(h.nano) end
  end
  if spent + held + nano > tonumber(b.limit_nano) then
    return {'refused', b.raw, string.format('%.0f', spent), string.format('%.0f', held)}
  end
end
redis.call('HSET', KEYS[3], ARGV[2], cjson.encode(
  {user = user, app = app, task = task, model = model, nano = ARGV[3], exp = ARGV[4]}))
return {'held'}
"""
)

COMMIT = (
    _COMMON
    + """
-- KEYS: keys, entries, budgets, spent, holds
-- ARGV: dedup key, score, entry JSON, nano ('' when unpriced), user, app, task,
--       served model, requested model, day window, month window, hold id ('' when none)
local new = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 1
settle_hold(KEYS[5], ARGV[12], ARGV[4], new)
if not new then return 0 end
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
if ARGV[4] ~= '' then
  local raw = redis.call('HGETALL', KEYS[3])
  for i = 1, #raw, 2 do
    local b = cjson.decode(raw[i + 1])
    if applies(b, ARGV[5], ARGV[6], ARGV[7], ARGV[8], ARGV[9]) then
      redis.call('HINCRBY', KEYS[4], raw[i] .. '#' .. win(b.period, ARGV[10], ARGV[11]), ARGV[4])
    end
  end
end
return 1
"""
)

RESERVE_MANY = (
    _COMMON
    + """
-- A batch of reservations judged in order as RESERVE would judge each, in one script: budgets
-- and holds are decoded once, and each hold taken counts against the next ones.
-- KEYS: budgets, spent, holds
-- ARGV: now, day window, month window, then per reservation:
--       hold id, nano, expires, user, app, task, model
local n = (#ARGV - 3) / 7
local out = {}
local budgets = load_budgets(KEYS[1])
if #budgets == 0 then
  for r = 1, n do out[r] = {'free'} end
  return out
end
local now = tonumber(ARGV[1])
local st = {spent = {}, held = {}}
for r = 0, n - 1 do
  local at = 4 + r * 7
  local nano = tonumber(ARGV[at + 1])
  local user, app, task, model = ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], ARGV[at + 6]
  local applicable = {}
  for _, b in ipairs(budgets) do
    if applies(b, user, app, task, model, model) then applicable[#applicable + 1] = b end
  end
  if #applicable == 0 then
    out[r + 1] = {'free'}
  else
    standing(st, applicable, KEYS[3], KEYS[2], now, ARGV[2], ARGV[3])
    local refused = judge(st, applicable, nano)
    if refused then
      out[r + 1] = refused
    else
      redis.call('HSET', KEYS[3], ARGV[at], cjson.encode({user = user, app = app, task = task,
        model = model, nano = ARGV[at + 1], exp = ARGV[at + 2]}))
      out[r + 1] = {'held'}
    end
  end
end
return out
"""
)

RESERVE_LEASED = (
    _COMMON
    + """
-- Holds and leases judged in order (see SQLiteBackend.reserve_leased): kind 'G' a lease given
-- back (first in the batch); 'h' a hold as
-- RESERVE judges it; 'L' a lease for the 'm' items after it (reply {'lease', nano}, then each
-- member {'held'}), or {'lease', '0'} and each member judged as a hold.
-- KEYS: budgets, spent, holds
-- ARGV: now, day window, month window, share, calls, floor, then per item:
--       kind, id, nano (a lease: what its members need), expires, user, app, task, model,
--       unit (a lease: its largest member's nano)
local n = (#ARGV - 6) / 9
local out = {}
local now = tonumber(ARGV[1])
local share, calls, floor = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local budgets = load_budgets(KEYS[1])
local st = {spent = {}, held = {}}
local spent, held = st.spent, st.held
local covered = false
for r = 0, n - 1 do
  local at = 7 + r * 9
  local kind, id, nano = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  local user, app, task, model = ARGV[at + 4], ARGV[at + 5], ARGV[at + 6], ARGV[at + 7]
  local applicable = {}
  for _, b in ipairs(budgets) do
    if applies(b, user, app, task, model, model) then applicable[#applicable + 1] = b end
  end
  local stored = nil
  if kind == 'G' then
    drop_hold(KEYS[3], id .. '.', ARGV[at + 2])
    out[r + 1] = {'given'}
  elseif kind == 'L' then
    local grant = 0
    if #applicable > 0 then
      standing(st, applicable, KEYS[3], KEYS[2], now, ARGV[2], ARGV[3])
      local room = nil
      for _, b in ipairs(applicable) do
        local left = tonumber(b.limit_nano) - spent[b.id] - held[b.id]
        if room == nil or left < room then room = left end
      end
      local unit = tonumber(ARGV[at + 8])
      local most = math.floor(room / share)
      if unit > 0 and room >= floor * unit and nano <= most then
        grant = math.max(nano, math.min(most, calls * unit))
      end
    end
    covered = grant > 0
    if covered then
      stored = string.format('%.0f', grant)
      for _, b in ipairs(applicable) do held[b.id] = held[b.id] + grant end
    end
    out[r + 1] = {'lease', string.format('%.0f', grant)}
  elseif kind == 'm' and covered then
    out[r + 1] = {'held'}
  elseif #applicable == 0 then
    out[r + 1] = {'free'}
  else
    standing(st, applicable, KEYS[3], KEYS[2], now, ARGV[2], ARGV[3])
    local refused = judge(st, applicable, nano)
    if refused then
      out[r + 1] = refused
    else
      stored = ARGV[at + 2]
      out[r + 1] = {'held'}
    end
  end
  if stored then
    redis.call('HSET', KEYS[3], id, cjson.encode({user = user, app = app, task = task,
      model = model, nano = stored, exp = ARGV[at + 3]}))
  end
end
return out
"""
)

COMMIT_MANY = (
    _COMMON
    + """
-- A batch of settled calls, each recorded as COMMIT would record it, in one script: the batch
-- arrives as one JSON argument (one argument to pack on the client, one C decode here), and
-- budgets are read and decoded once, only when a new priced entry needs them. Totals are summed
-- here first: one HINCRBY per (budget, window) and one update per lease for the whole batch,
-- not one per entry (plain holds are deleted as they come).
-- KEYS: keys, entries, budgets, spent, holds
-- ARGV[1]: JSON array of [dedup key, score, entry JSON, nano ('' when unpriced), user, app,
--          task, served model, requested model, day window, month window, hold id ('' none)]
-- Returns 1 (recorded) or 0 (recorded before) per entry, in order.
local records = cjson.decode(ARGV[1])
local budgets = nil
local out = {}
local charges, slots = {}, {}
local leases, lease_ids = {}, {}
for r, e in ipairs(records) do
  local new = redis.call('HSETNX', KEYS[1], e[1], e[2]) == 1
  local hold = e[12]
  if hold ~= '' then
    if string.sub(hold, 1, 6) ~= 'lease-' then
      redis.call('HDEL', KEYS[5], hold)
    elseif new then
      local lease = string.match(hold, '^([^.]+)')
      if leases[lease] == nil then
        leases[lease] = 0
        lease_ids[#lease_ids + 1] = lease
      end
      leases[lease] = leases[lease] + tonumber(e[4] ~= '' and e[4] or '0')
    end
  end
  if not new then
    out[r] = 0
  else
    redis.call('ZADD', KEYS[2], e[2], e[3])
    if e[4] ~= '' then
      if budgets == nil then
        budgets = {}
        local raw = redis.call('HGETALL', KEYS[3])
        for i = 1, #raw, 2 do
          local b = cjson.decode(raw[i + 1])
          b.id = raw[i]
          budgets[#budgets + 1] = b
        end
      end
      local nano = tonumber(e[4])
      for _, b in ipairs(budgets) do
        if applies(b, e[5], e[6], e[7], e[8], e[9]) then
          local slot = b.id .. '#' .. win(b.period, e[10], e[11])
          if charges[slot] == nil then
            charges[slot] = 0
            slots[#slots + 1] = slot
          end
          charges[slot] = charges[slot] + nano
        end
      end
    end
    out[r] = 1
  end
end
for _, slot in ipairs(slots) do
  redis.call('HINCRBY', KEYS[4], slot, string.format('%.0f', charges[slot]))
end
for _, lease in ipairs(lease_ids) do
  drop_hold(KEYS[5], lease .. '.', string.format('%.0f', leases[lease]))
end
return out
"""
)

GIVE_BACK = (
    _COMMON
    + """
-- Lower a lease by headroom its process no longer needs (gone once empty).
-- KEYS: holds; ARGV: lease id, nano
drop_hold(KEYS[1], ARGV[1] .. '.', ARGV[2])
return 1
"""
)
