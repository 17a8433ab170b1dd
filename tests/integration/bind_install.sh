#!/bin/bash
# The bindings outside the repository: pip installs the Python one into a venv
# (no package index needed), and after `meson install` both find the installed
# liblobo.so and the Lua module by themselves. The install goes to a tmpfs over
# /usr/local in a private mount namespace, so this machine's /usr/local is untouched.
. "$(dirname "$0")/common.inc"
need_root
BUILD=$(realpath "$(dirname "$(realpath "$L")")/../..")
[ -f "$BUILD/liblobo.so" ] || { echo "no liblobo.so next to $L"; exit 77; }
ldd "$BUILD/liblobo.so" | grep -q libasan && { echo "an ASan build: its liblobo.so is for the tests in build/"; exit 77; }
command -v luajit >/dev/null || { echo "no luajit (apt-get install luajit)"; exit 77; }
/usr/bin/python3 -m venv "$tmp/venv" || { echo "cannot make a venv (apt-get install python3-venv)"; exit 77; }
"$tmp/venv/bin/pip" install --no-index -q ./bindings/python >"$tmp/pip.log" 2>&1 ||
	{ echo "pip install ./bindings/python failed: $(tail -n1 "$tmp/pip.log")"; exit 1; }
cat >"$tmp/use.py" <<'PY'
import lobo
with lobo.Mem(1 << 21) as mem, lobo.Pool(mem, 2048, 64) as pool, lobo.Port("null:", mem) as port:
    f = lobo.frames(32)
    port.rx_post(0, f, pool.alloc(f, 32))
    assert port.rx_poll(0, f, 32) == 32 and len(lobo.view(f[3])) == 60, "null: gave no frames"
print(lobo.__file__, lobo._ffi.lib._name)
PY
cd "$tmp" || exit 1
out=$(LOBO_LIB=$BUILD/liblobo.so venv/bin/python use.py 2>&1) || { echo "the pip-installed binding failed: $out"; exit 1; }
case $out in "$tmp"/venv/*) ;; *) echo "python used $out, not the venv's package"; exit 1 ;; esac
if [ ! -e /usr/local/lib/x86_64-linux-gnu/liblobo.so ] && ! ldconfig -p | grep -q liblobo.so; then
	out=$(venv/bin/python use.py 2>&1) && { echo "found a liblobo.so that is not installed: $out"; exit 1; }
	[ "$(printf '%s\n' "$out" | tail -n1)" = "ImportError: lobo: cannot load liblobo.so (tried liblobo.so, /usr/local/lib/x86_64-linux-gnu/liblobo.so): build it with make in the lobo repository, install it with meson install -C build, or set LOBO_LIB=/path/to/liblobo.so" ] ||
		{ echo "no library, but not the one-line fix: $(printf '%s\n' "$out" | tail -n1)"; exit 1; }
fi
unshare --mount --propagation private sh -c '
	mount -t tmpfs lobo-install /usr/local && meson install -C "$1" --no-rebuild --quiet >"$2/install.log" 2>&1 || exit 3
	"$2/venv/bin/python" "$2/use.py" || exit 4
	luajit -e "local l = require(\"lobo\"); local m = l.mem(2 ^ 21); local p = l.port(\"null:\", m)
		assert(package.searchpath(\"lobo\", package.path):find(\"^/usr/local/share/lua/5.1/\"), package.path)
		assert(p:info().driver == \"null\"); p:close(); m:free(); print(\"lua ok\")" || exit 5
' sh "$BUILD" "$tmp" >"$tmp/installed.out" 2>&1
rc=$?
case $rc in
0) ;;
3) echo "meson install failed: $(tail -n1 "$tmp/install.log")"; exit 1 ;;
*) echo "after meson install, the $([ $rc = 4 ] && echo Python || echo Lua) binding failed: $(tail -n2 "$tmp/installed.out" | tr '\n' ' ')"; exit 1 ;;
esac
grep -q "^$tmp/venv/.*/usr/local/lib/x86_64-linux-gnu/liblobo.so$" "$tmp/installed.out" ||
	{ echo "python did not load the installed library: $(head -n1 "$tmp/installed.out")"; exit 1; }
echo "pip-installed Python binding and installed Lua module found the installed liblobo.so"
