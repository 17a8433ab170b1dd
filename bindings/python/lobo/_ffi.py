"""The part of include/lobo.h the binding uses, declared once, here, for ctypes.

tests/bindings/layout checks every structure's size and field offsets against
the C compiler, so a change to lobo.h that is not made here fails a test."""
import ctypes
import os
from ctypes import (POINTER, Structure, c_bool, c_char, c_char_p, c_int, c_size_t, c_uint8, c_uint16, c_uint32,
                    c_uint64, c_void_p)

LOBO_ERR_LEN = 256
LOBO_MAX_QUEUES = 16
LOBO_BATCH = 32
LOBO_F_ERROR = 1
LOBO_STATS_MAX_PORTS = 16
CONSTANTS = ('LOBO_ERR_LEN', 'LOBO_MAX_QUEUES', 'LOBO_BATCH', 'LOBO_F_ERROR', 'LOBO_STATS_MAX_PORTS')
COUNTERS = ('rx_packets', 'rx_bytes', 'rx_dropped', 'rx_errors', 'tx_packets', 'tx_bytes', 'tx_dropped',
            'tx_errors', 'copies', 'exception_rx', 'exception_tx', 'exception_rx_dropped', 'exception_tx_dropped')


class lobo_mem(Structure):
    _fields_ = [('base', POINTER(c_uint8)), ('len', c_size_t), ('page_size', c_size_t), ('huge', c_bool),
                ('phys', POINTER(c_uint64)), ('iommu_mapped', c_int), ('fd', c_int)]


class lobo_frame(Structure):
    # data as an address (an int): cheaper than a pointer object, and view() makes a memoryview of it
    _fields_ = [('data', c_void_p), ('len', c_uint32), ('flags', c_uint32), ('tag', c_uint64),
                ('rss_hash', c_uint32), ('vlan_tci', c_uint16), ('reserved', c_uint16)]


# __attribute__((aligned(64))) in C: ctypes has no alignment, so the padding is spelled out.
_counter_fields = [(name, c_uint64) for name in COUNTERS]


class lobo_counters(Structure):
    _fields_ = _counter_fields + [('_align', c_uint8 * (-len(_counter_fields) * 8 % 64))]


class lobo_port_info(Structure):
    _fields_ = [('name', c_char * 64), ('driver', c_char * 16), ('queues', c_uint16), ('rx_ring', c_uint16),
                ('tx_ring', c_uint16), ('max_frame', c_uint32), ('mac', c_uint8 * 6), ('link_up', c_bool),
                ('mode', c_char * 32), ('shadow', c_char * 16), ('speed_mbps', c_uint32),
                ('rss_reta_size', c_uint16)]


class lobo_pool(Structure):
    _fields_ = [('mem', POINTER(lobo_mem)), ('base', POINTER(c_uint8)), ('buf_size', c_uint32), ('count', c_uint32),
                ('free_count', c_uint32), ('stack', POINTER(c_uint32)), ('refs', POINTER(c_uint16)),
                ('double_frees', c_uint64)]


class lobo_stats(Structure):
    _fields_ = [('file', c_void_p), ('fd', c_int), ('nports', c_uint32), ('path', c_char * 128),
                ('ports', c_void_p * LOBO_STATS_MAX_PORTS)]


STRUCTS = (lobo_mem, lobo_frame, lobo_counters, lobo_port_info, lobo_pool, lobo_stats)

_port = c_void_p  # struct lobo_port *, opaque
_frames = c_void_p  # an array of struct lobo_frame, or its address plus an offset
_err = c_char_p
PROTOTYPES = {
    'lobo_mem_alloc': (c_int, POINTER(lobo_mem), c_size_t, _err),
    'lobo_mem_free': (None, POINTER(lobo_mem)),
    'lobo_port_open': (c_int, POINTER(_port), c_char_p, POINTER(lobo_mem), _err),
    'lobo_port_close': (None, _port),
    'lobo_port_info': (POINTER(lobo_port_info), _port),
    'lobo_port_counters': (POINTER(lobo_counters), _port, c_uint16),
    'lobo_port_counters_sum': (None, _port, POINTER(lobo_counters)),
    'lobo_rx_post': (c_uint16, _port, c_uint16, _frames, c_uint16),
    'lobo_rx_poll': (c_uint16, _port, c_uint16, _frames, c_uint16),
    'lobo_tx_post': (c_uint16, _port, c_uint16, _frames, c_uint16),
    'lobo_tx_reclaim': (c_uint16, _port, c_uint16, _frames, c_uint16),
    'lobo_pool_init': (c_int, POINTER(lobo_pool), POINTER(lobo_mem), c_size_t, c_uint32, c_uint32, _err),
    'lobo_pool_destroy': (None, POINTER(lobo_pool)),
    'lobo_pool_alloc': (c_uint32, POINTER(lobo_pool), _frames, c_uint32),
    'lobo_pool_free': (None, POINTER(lobo_pool), _frames, c_uint32),
    'lobo_stats_open': (c_int, POINTER(lobo_stats), c_char_p, _err),
    'lobo_stats_add': (c_int, POINTER(lobo_stats), _port, _err),
    'lobo_stats_publish': (None, POINTER(lobo_stats)),
    'lobo_stats_close': (None, POINTER(lobo_stats)),
}


def _load():
    """liblobo.so: $LOBO_LIB, else the build tree this file sits in, else the installed one."""
    here = os.path.dirname(os.path.abspath(__file__))
    in_repo = here.endswith(os.path.join('bindings', 'python', 'lobo'))
    tried = ([os.path.normpath(os.path.join(here, '..', '..', '..', 'build', 'liblobo.so'))] if in_repo else []) + \
        ['liblobo.so', '/usr/local/lib/x86_64-linux-gnu/liblobo.so']
    if os.environ.get('LOBO_LIB'):
        tried = [os.environ['LOBO_LIB']]
    for path in tried:
        if '/' in path and not os.path.exists(path):
            continue
        try:
            return ctypes.CDLL(path)
        except OSError:
            pass
    raise ImportError('lobo: cannot load liblobo.so (tried %s): build it with make in the lobo repository, install '
                      'it with meson install -C build, or set LOBO_LIB=/path/to/liblobo.so' % ', '.join(tried))


lib = _load()
for _name, (_res, *_args) in PROTOTYPES.items():
    _fn = getattr(lib, _name)
    _fn.restype, _fn.argtypes = _res, _args


def layout():
    """(struct, field or None, offset or size) for every structure above, as ctypes lays it out,
    then ('const', name, value) for the constants."""
    out = []
    for s in STRUCTS:
        out.append((s.__name__, None, ctypes.sizeof(s)))
        out += [(s.__name__, f[0], getattr(s, f[0]).offset) for f in s._fields_ if not f[0].startswith('_')]
    return out + [('const', name, globals()[name]) for name in CONSTANTS]
