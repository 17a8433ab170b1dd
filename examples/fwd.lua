#!/usr/bin/env luajit
-- luajit examples/fwd.lua PORT PORT COUNT: `lobo fwd` written over the LuaJIT
-- binding. Forwards both ways, zero-copy, until COUNT frames have gone through
-- (0: until a pcap input ends, Ctrl-C or SIGTERM), then prints the JSON summary
-- line `lobo fwd --json` prints. The same loop as src/tools/fwd.c.
package.path = arg[0]:match("^(.-)[^/]*$") .. "../bindings/lua/?.lua;" .. package.path
local bit = require("bit")
local ffi = require("ffi")
local found, lobo = pcall(require, "lobo")
if not found then
  io.stderr:write(tostring(lobo), "\n")
  os.exit(1)
end

ffi.cdef [[
typedef struct { unsigned long val[16]; } sigset_t;
int sigemptyset(sigset_t *set);
int sigaddset(sigset_t *set, int sig);
int sigismember(const sigset_t *set, int sig);
int sigprocmask(int how, const sigset_t *set, sigset_t *old);
int sigpending(sigset_t *set);
struct timespec { long tv_sec, tv_nsec; };
int clock_gettime(int clock, struct timespec *t);
int usleep(unsigned usec);
]]
local SIGINT, SIGTERM, SIG_BLOCK, CLOCK_MONOTONIC = 2, 15, 0, 1
local BUF, BUFFERS, BATCH, MAX_BATCH = 2048, 8192, 32, 256

local A, B, COUNT = arg[1], arg[2], tonumber(arg[3] or "")
if not (A and B and COUNT) or arg[4] or COUNT < 0 then
  io.stderr:write("usage: luajit examples/fwd.lua PORT PORT COUNT   (COUNT 0: until the input ends or Ctrl-C)\n")
  os.exit(2)
end

local ts = ffi.new("struct timespec")
local function now()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- SIGINT and SIGTERM wait, blocked, until the loop asks: the JIT's compiled
-- loop never sees LuaJIT's own interrupt hook.
local signals, pending = ffi.new("sigset_t"), ffi.new("sigset_t")
local function block_signals()
  ffi.C.sigemptyset(signals)
  ffi.C.sigaddset(signals, SIGINT)
  ffi.C.sigaddset(signals, SIGTERM)
  ffi.C.sigprocmask(SIG_BLOCK, signals, nil)
end
local function stopped()
  ffi.C.sigpending(pending)
  return ffi.C.sigismember(pending, SIGINT) == 1 or ffi.C.sigismember(pending, SIGTERM) == 1
end

-- The last line of `lobo fwd --json`, from the ports' counters.
local function summary(ports, seconds)
  local out, t = {}, seconds > 0 and seconds or 1
  local first = ports[1]:info().name
  for i, p in ipairs(ports) do
    local c, name = p:counters(), p:info().name
    local key = name:gsub('[\\"]', "\\%0") .. ((i > 1 and name == first) and "#" .. i or "")
    out[i] = string.format('"%s":{"rx_packets":%d,"tx_packets":%d,"rx_bytes":%d,"tx_bytes":%d,"rx_dropped":%d,'
      .. '"tx_dropped":%d,"rx_errors":%d,"tx_errors":%d,"rx_pps":%.0f,"tx_pps":%.0f,"rx_bps":%.0f,"tx_bps":%.0f,'
      .. '"exception_rx":%d,"exception_tx":%d,"exception_rx_dropped":%d,"exception_tx_dropped":%d}',
      key, c.rx_packets, c.tx_packets, c.rx_bytes, c.tx_bytes, c.rx_dropped, c.tx_dropped, c.rx_errors,
      c.tx_errors, c.rx_packets / t, c.tx_packets / t, c.rx_bytes * 8 / t, c.tx_bytes * 8 / t,
      c.exception_rx, c.exception_tx, c.exception_rx_dropped, c.exception_tx_dropped)
  end
  print(string.format('{"type":"summary","seconds":%.3f,"ports":{%s},"filtered":0,"cpu_seconds":%.3f}', seconds,
                      table.concat(out, ","), os.clock()))
end

local function run()
  local mem = lobo.mem(BUFFERS * BUF)
  local pool = lobo.pool(mem, BUF, BUFFERS)
  local ports = {lobo.port(A, mem), lobo.port(B, mem)}
  local ok, stats = pcall(lobo.stats, "fwd.lua")
  if not ok then io.stderr:write("lobo: warning: lobo top will not see this run: ", stats, "\n") stats = nil end
  for _, p in ipairs(ports) do if stats then stats:add(p) end end

  -- Every rx queue is polled; a port with fewer queues sends from several lanes per queue.
  local lanes, info = {}, {ports[1]:info(), ports[2]:info()}
  for side = 1, 2 do
    local other = 3 - side
    for q = 0, info[side].queues - 1 do
      lanes[#lanes + 1] = {from = ports[side], to = ports[other], rxq = q, txq = q % info[other].queues,
                           posted = 0, ring = info[side].rx_ring}
    end
  end

  local f, g = lobo.frames(MAX_BATCH), lobo.frames(MAX_BATCH)
  local function forward(l, max)
    local n = l.from:rx_poll(l.rxq, f, max)
    local good = 0
    l.posted = l.posted - n
    for i = 0, n - 1 do
      if bit.band(f[i].flags, lobo.C.LOBO_F_ERROR) ~= 0 then -- counted in the port's rx_errors
        pool:free(f + i, 1)
      else
        f[good] = f[i]
        good = good + 1
      end
    end
    local sent = l.to:tx_post(l.txq, f, good)
    if sent < good then
      pool:free(f + sent, good - sent)
      local c = l.to:counters_of(l.txq)
      c.tx_dropped = c.tx_dropped + (good - sent)
    end
    pool:free(f, l.to:tx_reclaim(l.txq, f, MAX_BATCH))
    return n
  end
  local function refill(l)
    local n = pool:alloc(g, math.min(l.ring - l.posted, MAX_BATCH))
    local took = l.from:rx_post(l.rxq, g, n)
    pool:free(g + took, n - took)
    l.posted = l.posted + took
  end
  -- A pcap reader at the end of its file will never receive again.
  local function exhausted()
    for _, p in ipairs(ports) do
      local i = p:info()
      if i.driver == "pcap" and not i.link_up then return true end
    end
    return false
  end

  block_signals()
  local start, forwarded, idle, rounds, next_publish = now(), 0, 0, 0, 0
  while COUNT == 0 or forwarded < COUNT do
    local moved = 0
    for _, l in ipairs(lanes) do
      local max = COUNT > 0 and math.min(BATCH, COUNT - forwarded - moved) or BATCH
      moved = moved + forward(l, max)
      refill(l)
    end
    forwarded = forwarded + moved
    rounds = rounds + 1
    idle = moved > 0 and 0 or idle + 1
    if idle >= 1024 then
      ffi.C.usleep(50)
      if exhausted() then break end
    end
    if rounds % 256 == 0 or idle > 0 then
      if stopped() then break end
      local t = now()
      if stats and t >= next_publish then stats:publish() next_publish = t + 0.1 end
    end
  end
  local seconds = now() - start
  if stats then stats:publish() end
  summary(ports, seconds)
  if stats then stats:close() end
  for _, p in ipairs(ports) do p:close() end
  pool:destroy()
  mem:free()
end

local ok, e = pcall(run)
if not ok then
  io.stderr:write("lobo: ", tostring(e), "\n")
  os.exit(1)
end
