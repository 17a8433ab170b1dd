#!/usr/bin/python3
"""layout.py lua|python SRCDIR: every struct the binding declares, with its size
and field offsets as the binding's FFI lays them out, and every constant, must
match include/lobo.h as the C compiler sees it. The check is a C file of
_Static_asserts generated from the binding's own declarations, so a field the
binding names that lobo.h lacks fails to compile too. CC may name the compiler."""
import os
import shlex
import subprocess
import sys

lang, src = sys.argv[1], sys.argv[2]
if lang == 'lua':
    code = ('package.path = %r .. "/bindings/lua/?.lua;" .. package.path\n'
            'for _, r in ipairs(require("lobo").layout()) do print(r[1], r[2] or "-", r[3]) end' % src)
    out = subprocess.run(['luajit', '-e', code], capture_output=True, text=True)
    if out.returncode:
        sys.exit('luajit: %s' % out.stderr.strip())
    rows = [line.split('\t') for line in out.stdout.splitlines()]
else:
    sys.path.insert(0, os.path.join(src, 'bindings', 'python'))
    from lobo import _ffi
    rows = [(s, f or '-', v) for s, f, v in _ffi.layout()]

checks = ['#include <stddef.h>', '#include "lobo.h"']
for struct, field, value in rows:
    if struct == 'const':
        checks.append('_Static_assert(%s == %s, "%s: %s is %s in the binding, not in lobo.h");'
                      % (field, value, lang, field, value))
    elif field == '-':
        checks.append('_Static_assert(sizeof(struct %s) == %s, "%s: struct %s is %s bytes in the binding, '
                      'not in lobo.h");' % (struct, value, lang, struct, value))
    else:
        checks.append('_Static_assert(offsetof(struct %s, %s) == %s, "%s: %s.%s is at byte %s in the binding, '
                      'not in lobo.h");' % (struct, field, value, lang, struct, field, value, ))
cc = shlex.split(os.environ.get('CC') or 'cc')
res = subprocess.run(cc + ['-std=c11', '-fsyntax-only', '-I', os.path.join(src, 'include'), '-x', 'c', '-'],
                     input='\n'.join(checks) + '\n', capture_output=True, text=True)
if res.returncode:
    errors = [line.split('error: ', 1)[1] for line in res.stderr.splitlines() if 'error: ' in line]
    sys.exit('%s binding and lobo.h disagree (update the declarations in bindings/):\n  %s'
             % (lang, '\n  '.join(errors or [res.stderr.strip()])))
structs = {r[0] for r in rows if r[0] != 'const'}
print('%s: %d structs, %d fields, %d constants match lobo.h' % (
    lang, len(structs), sum(r[0] != 'const' and r[1] != '-' for r in rows), sum(r[0] == 'const' for r in rows)))
