-- lobo.lua: liblobo for LuaJIT, through the FFI alone (no C glue).
--
--   local lobo = require("lobo")
--   local mem = lobo.mem(8192 * 2048)            -- the caller's memory
--   local pool = lobo.pool(mem, 2048, 8192)       -- optional: any buffer scheme works
--   local port = lobo.port("afpacket:eth0", mem)
--   local f = lobo.frames(32)                     -- struct lobo_frame[32]
--   local n = port:rx_poll(0, f, 32)              -- f[i].data, f[i].len, f[i].tag
--
-- Frames stay in lobo's memory: Lua sees pointers and lengths. The data-path
-- methods are the C calls themselves, which the JIT compiles to direct calls.
-- Errors are raised as the library's one-line message.
local ffi = require("ffi")

-- The part of include/lobo.h this module uses, declared once, here.
-- tests/bindings/layout checks every struct's size and offsets against the C
-- compiler, so a change to lobo.h that is not made here fails a test.
local CDEF = [[
enum { LOBO_ERR_LEN = 256, LOBO_MAX_QUEUES = 16, LOBO_BATCH = 32, LOBO_F_ERROR = 1, LOBO_STATS_MAX_PORTS = 16 };
struct lobo_mem {
	uint8_t *base;
	size_t len;
	size_t page_size;
	bool huge;
	uint64_t *phys;
	int iommu_mapped;
	int fd;
};
struct lobo_frame {
	uint8_t *data;
	uint32_t len;
	uint32_t flags;
	uint64_t tag;
	uint32_t rss_hash;
	uint16_t vlan_tci;
	uint16_t reserved;
};
struct lobo_counters {
	uint64_t rx_packets, rx_bytes, rx_dropped, rx_errors;
	uint64_t tx_packets, tx_bytes, tx_dropped, tx_errors;
	uint64_t copies;
	uint64_t exception_rx, exception_tx, exception_rx_dropped, exception_tx_dropped;
} __attribute__((aligned(64)));
struct lobo_port_info {
	char name[64];
	char driver[16];
	uint16_t queues;
	uint16_t rx_ring, tx_ring;
	uint32_t max_frame;
	uint8_t mac[6];
	bool link_up;
	char mode[32];
	char shadow[16];
	uint32_t speed_mbps;
	uint16_t rss_reta_size;
};
struct lobo_pool {
	struct lobo_mem *mem;
	uint8_t *base;
	uint32_t buf_size, count, free_count;
	uint32_t *stack;
	uint16_t *refs;
	uint64_t double_frees;
};
struct lobo_stats {
	struct lobo_stats_file *file;
	int fd;
	uint32_t nports;
	char path[128];
	struct lobo_port *ports[16];
};
struct lobo_port;
struct lobo_stats_file;
int lobo_mem_alloc(struct lobo_mem *mem, size_t len, char *err);
void lobo_mem_free(struct lobo_mem *mem);
int lobo_port_open(struct lobo_port **port, const char *uri, struct lobo_mem *mem, char *err);
void lobo_port_close(struct lobo_port *port);
const struct lobo_port_info *lobo_port_info(struct lobo_port *port);
struct lobo_counters *lobo_port_counters(struct lobo_port *port, uint16_t queue);
void lobo_port_counters_sum(struct lobo_port *port, struct lobo_counters *sum);
uint16_t lobo_rx_post(struct lobo_port *port, uint16_t queue, const struct lobo_frame *bufs, uint16_t n);
uint16_t lobo_rx_poll(struct lobo_port *port, uint16_t queue, struct lobo_frame *frames, uint16_t max);
uint16_t lobo_tx_post(struct lobo_port *port, uint16_t queue, const struct lobo_frame *frames, uint16_t n);
uint16_t lobo_tx_reclaim(struct lobo_port *port, uint16_t queue, struct lobo_frame *done, uint16_t max);
int lobo_pool_init(struct lobo_pool *pool, struct lobo_mem *mem, size_t offset, uint32_t buf_size, uint32_t count, char *err);
void lobo_pool_destroy(struct lobo_pool *pool);
uint32_t lobo_pool_alloc(struct lobo_pool *pool, struct lobo_frame *out, uint32_t n);
void lobo_pool_free(struct lobo_pool *pool, const struct lobo_frame *frames, uint32_t n);
int lobo_stats_open(struct lobo_stats *stats, const char *program, char *err);
int lobo_stats_add(struct lobo_stats *stats, struct lobo_port *port, char *err);
void lobo_stats_publish(struct lobo_stats *stats);
void lobo_stats_close(struct lobo_stats *stats);
]]
ffi.cdef(CDEF)

local M = {COUNTERS = {"rx_packets", "rx_bytes", "rx_dropped", "rx_errors", "tx_packets", "tx_bytes",
                       "tx_dropped", "tx_errors", "copies", "exception_rx", "exception_tx",
                       "exception_rx_dropped", "exception_tx_dropped"}}

-- liblobo.so: $LOBO_LIB, else the build tree this file sits in, else the installed one.
local function load()
  local repo = debug.getinfo(1, "S").source:match("^@(.-)bindings/lua/[^/]*$")
  local tried = {"liblobo.so", "/usr/local/lib/x86_64-linux-gnu/liblobo.so"}
  if repo then table.insert(tried, 1, repo .. "build/liblobo.so") end
  if os.getenv("LOBO_LIB") then tried = {os.getenv("LOBO_LIB")} end
  for _, path in ipairs(tried) do
    local ok, lib = pcall(ffi.load, path)
    if ok then return lib end
  end
  error("lobo: cannot load liblobo.so (tried " .. table.concat(tried, ", ") .. "): build it with make in the "
        .. "lobo repository, install it with meson install -C build, or set LOBO_LIB=/path/to/liblobo.so", 0)
end
local C = load()
M.C = C

local err = ffi.new("char[?]", C.LOBO_ERR_LEN)
local function check(rc)
  if rc < 0 then error(ffi.string(err), 0) end
end

function M.frames(n) return ffi.new("struct lobo_frame[?]", n) end

-- A memory region (hugepages if the system has them), freed with mem:free() or by the GC.
ffi.metatype("struct lobo_mem", {__index = {free = function(mem) C.lobo_mem_free(ffi.gc(mem, nil)) end}})
function M.mem(len)
  local mem = ffi.new("struct lobo_mem")
  check(C.lobo_mem_alloc(mem, len, err))
  return ffi.gc(mem, C.lobo_mem_free)
end

local Pool = {}
Pool.__index = Pool
function M.pool(mem, buf_size, count, offset)
  local p = setmetatable({c = ffi.new("struct lobo_pool"), mem = mem}, Pool)
  check(C.lobo_pool_init(p.c, mem, offset or 0, buf_size, count, err))
  ffi.gc(p.c, C.lobo_pool_destroy)
  return p
end
function Pool:alloc(f, n) return C.lobo_pool_alloc(self.c, f, n) end
function Pool:free(f, n) C.lobo_pool_free(self.c, f, n) end
function Pool:buf(tag) return self.c.base + tag * self.c.buf_size end
function Pool:destroy() C.lobo_pool_destroy(ffi.gc(self.c, nil)) end

local Port = {}
Port.__index = Port
-- A port by URI over `mem` (kept alive as long as the port: a port may have
-- registered it with a device).
function M.port(uri, mem)
  local pp = ffi.new("struct lobo_port *[1]")
  check(C.lobo_port_open(pp, uri, mem, err))
  return setmetatable({c = ffi.gc(pp[0], C.lobo_port_close), mem = mem, uri = uri}, Port)
end
function Port:rx_post(q, f, n) return C.lobo_rx_post(self.c, q, f, n) end
function Port:rx_poll(q, f, max) return C.lobo_rx_poll(self.c, q, f, max) end
function Port:tx_post(q, f, n) return C.lobo_tx_post(self.c, q, f, n) end
function Port:tx_reclaim(q, f, max) return C.lobo_tx_reclaim(self.c, q, f, max) end
function Port:counters_of(q) return C.lobo_port_counters(self.c, q) end -- writable, as in C
function Port:close() -- a call after it raises (false is no pointer)
  if self.c then C.lobo_port_close(ffi.gc(self.c, nil)) end
  self.c = false
end
-- Link state, MAC and the rest, refreshed, as a table (not for the fast path).
function Port:info()
  local i = C.lobo_port_info(self.c)
  return {name = ffi.string(i.name), driver = ffi.string(i.driver), queues = i.queues, rx_ring = i.rx_ring,
          tx_ring = i.tx_ring, max_frame = i.max_frame, link_up = i.link_up, mode = ffi.string(i.mode),
          mac = string.format("%02x:%02x:%02x:%02x:%02x:%02x", i.mac[0], i.mac[1], i.mac[2], i.mac[3], i.mac[4], i.mac[5])}
end
-- Counters summed over queues, as a table of numbers.
function Port:counters()
  local c, t = ffi.new("struct lobo_counters"), {}
  C.lobo_port_counters_sum(self.c, c)
  for _, k in ipairs(M.COUNTERS) do t[k] = tonumber(c[k]) end
  return t
end

-- Counters published for `lobo top`.
local Stats = {}
Stats.__index = Stats
function M.stats(program)
  local s = setmetatable({c = ffi.new("struct lobo_stats"), ports = {}}, Stats)
  check(C.lobo_stats_open(s.c, program, err))
  ffi.gc(s.c, C.lobo_stats_close)
  return s
end
function Stats:add(port)
  check(C.lobo_stats_add(self.c, port.c, err))
  self.ports[#self.ports + 1] = port
end
function Stats:publish() C.lobo_stats_publish(self.c) end
function Stats:close() C.lobo_stats_close(ffi.gc(self.c, nil)) end

-- Size and field offsets of every struct declared above, as this FFI lays them
-- out: {struct, field or false, offset or size}. Constants: {"const", name, value}.
function M.layout()
  local out = {}
  for name, body in CDEF:gmatch("struct (lobo_[%w_]+) {(.-)}") do
    out[#out + 1] = {name, false, ffi.sizeof("struct " .. name)}
    for decl in body:gmatch("[^;]+") do
      for part in decl:gsub("%b[]", ""):gmatch("[^,]+") do
        local field = part:match("([%a_][%w_]*)%s*$")
        if field then out[#out + 1] = {name, field, ffi.offsetof("struct " .. name, field)} end
      end
    end
  end
  for name in CDEF:match("enum {(.-)}"):gmatch("(LOBO_[%w_]+)") do
    out[#out + 1] = {"const", name, C[name]}
  end
  return out
end

return M
