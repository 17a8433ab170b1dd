"""lobo for Python: liblobo through ctypes, no compiled extension.

    import lobo
    with lobo.Mem(8192 * 2048) as mem, lobo.Pool(mem, 2048, 8192) as pool, lobo.Port('afpacket:eth0', mem) as port:
        f = lobo.frames(32)
        port.rx_post(0, f, pool.alloc(f, 32))
        n = port.rx_poll(0, f, 32)             # f[i].data (an address), f[i].len, f[i].tag
        print(bytes(lobo.view(f[0])[:14]).hex(), port.counters())

Frames stay in lobo's memory; view() is a memoryview over one, not a copy.
Methods that take an array of frames also take `start`, the index to begin at
(C's `f + start`). Failures raise lobo.Error with the library's one-line message."""
import ctypes

from ._ffi import COUNTERS, LOBO_BATCH, LOBO_ERR_LEN, LOBO_F_ERROR, LOBO_MAX_QUEUES, lib, lobo_counters, lobo_frame, \
    lobo_mem, lobo_pool, lobo_stats

__all__ = ['Error', 'Mem', 'Pool', 'Port', 'Stats', 'frames', 'view', 'field_view', 'COUNTERS', 'LOBO_BATCH', 'LOBO_F_ERROR',
           'LOBO_MAX_QUEUES']
_FRAME = ctypes.sizeof(lobo_frame)


class Error(Exception):
    """A failed lobo call: str() is the library's message, errno its error number."""

    def __init__(self, rc, err):
        super().__init__(err.value.decode(errors='replace'))
        self.errno = -rc


def _call(fn, *args):
    err = ctypes.create_string_buffer(LOBO_ERR_LEN)
    rc = fn(*args, err)
    if rc < 0:
        raise Error(rc, err)


def _at(frames, start):
    return frames if not start else ctypes.addressof(frames) + start * _FRAME


def frames(n):
    """An array of n struct lobo_frame."""
    return (lobo_frame * n)()


def view(frame):
    """The frame's bytes, in place: a writable memoryview of frame.len bytes at frame.data."""
    return memoryview((ctypes.c_char * frame.len).from_address(frame.data)).cast('B')


def field_view(frames, field):
    """One uint32 field (len or flags) of every frame in an array, as a memoryview of ints, in place:
    field_view(f, 'flags')[:n] is read without a Python loop."""
    at, size = getattr(lobo_frame, field).offset, ctypes.sizeof(lobo_frame)
    return memoryview(frames).cast('B').cast('I')[at // 4::size // 4]


class _Closed:
    """What a closed object holds instead of its C object: false, and refused by
    ctypes (ArgumentError), so a call after close() raises instead of crashing."""

    def __bool__(self):
        return False


class _Closing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if hasattr(self, 'c'):
            self.close()


class Mem(_Closing):
    """A memory region frames live in (hugepages when the system has them)."""

    def __init__(self, size):
        self.c = _Closed()
        c = lobo_mem()
        _call(lib.lobo_mem_alloc, ctypes.byref(c), size)
        self.c = c

    def close(self):
        if self.c:
            lib.lobo_mem_free(ctypes.byref(self.c))
        self.c = _Closed()


class Pool(_Closing):
    """Fixed-size buffers carved from a Mem; tag = buffer index."""

    def __init__(self, mem, buf_size, count, offset=0):
        self.c, self.mem = _Closed(), mem
        c = lobo_pool()
        _call(lib.lobo_pool_init, ctypes.byref(c), ctypes.byref(mem.c), offset, buf_size, count)
        self.c, self._ref = c, ctypes.byref(c)

    def alloc(self, frames, n, start=0):
        return lib.lobo_pool_alloc(self._ref, _at(frames, start), n)

    def free(self, frames, n, start=0):
        lib.lobo_pool_free(self._ref, _at(frames, start), n)

    def buf(self, tag):
        """The address of buffer `tag`."""
        return ctypes.addressof(self.c.base.contents) + tag * self.c.buf_size

    def close(self):
        if self.c:
            lib.lobo_pool_destroy(self._ref)
        self.c = self._ref = _Closed()


class Port(_Closing):
    """A port by URI, over `mem` (kept as long as the port: it may be registered with a device)."""

    def __init__(self, uri, mem=None):
        self.c, self.mem, self.uri = _Closed(), mem, uri
        p = ctypes.c_void_p()
        _call(lib.lobo_port_open, ctypes.byref(p), uri.encode(), ctypes.byref(mem.c) if mem else None)
        self.c = p

    def rx_post(self, queue, bufs, n, start=0):
        return lib.lobo_rx_post(self.c, queue, _at(bufs, start), n)

    def rx_poll(self, queue, frames, max, start=0):
        return lib.lobo_rx_poll(self.c, queue, _at(frames, start), max)

    def tx_post(self, queue, frames, n, start=0):
        return lib.lobo_tx_post(self.c, queue, _at(frames, start), n)

    def tx_reclaim(self, queue, done, max, start=0):
        return lib.lobo_tx_reclaim(self.c, queue, _at(done, start), max)

    def queue_counters(self, queue):
        """The queue's struct lobo_counters itself, writable (as in C)."""
        return lib.lobo_port_counters(self.c, queue).contents

    def counters(self):
        """Counters summed over the queues, as a dict."""
        # ctypes aligns to 8 bytes at most; C may rely on the struct's 64, so place it by hand.
        raw = ctypes.create_string_buffer(ctypes.sizeof(lobo_counters) + 63)
        c = lobo_counters.from_address(-ctypes.addressof(raw) % 64 + ctypes.addressof(raw))
        lib.lobo_port_counters_sum(self.c, ctypes.byref(c))
        return {k: getattr(c, k) for k in COUNTERS}

    def info(self):
        """Link state, MAC and the rest, refreshed, as a dict (not for the fast path)."""
        i = lib.lobo_port_info(self.c).contents
        return {'name': i.name.decode(), 'driver': i.driver.decode(), 'queues': i.queues, 'rx_ring': i.rx_ring,
                'tx_ring': i.tx_ring, 'max_frame': i.max_frame, 'mac': ':'.join('%02x' % b for b in i.mac),
                'link_up': i.link_up, 'mode': i.mode.decode()}

    def close(self):
        if self.c:
            lib.lobo_port_close(self.c)
        self.c = _Closed()


class Stats(_Closing):
    """Counters of ports published to /run/lobo/<pid> for `lobo top`."""

    def __init__(self, program):
        self.c, self.ports = _Closed(), []
        c = lobo_stats()
        _call(lib.lobo_stats_open, ctypes.byref(c), program.encode())
        self.c = c

    def add(self, port):
        _call(lib.lobo_stats_add, ctypes.byref(self.c), port.c)
        self.ports.append(port)

    def publish(self):
        lib.lobo_stats_publish(ctypes.byref(self.c))

    def close(self):
        if self.c:
            lib.lobo_stats_close(ctypes.byref(self.c))
        self.c = _Closed()
