# A thin front door over Meson. The CLI ends up at build/lobo.
BUILD ?= build
LOBO ?= $(BUILD)/lobo

FUZZ_SECONDS ?= 60
FUZZ_BUILD ?= build-fuzz

.PHONY: all deps test demo bench lab fuzz clean

all: deps
	@[ -f $(BUILD)/build.ninja ] || meson setup $(BUILD)
	@ninja -C $(BUILD) >$(BUILD)/ninja.log || { cat $(BUILD)/ninja.log; exit 1; }
	@ln -sf src/tools/lobo $(BUILD)/lobo

deps:
	@scripts/deps.sh

# Unit, integration and lab tests; one total line at the end.
test: all
	@set -u; \
	meson test -C $(BUILD) --print-errorlogs > $(BUILD)/unit.log 2>&1; \
	grep -E '^ *[0-9]+/[0-9]+ ' $(BUILD)/unit.log | sed 's/^ *//'; \
	set -- $$(awk '/^Ok:/ {p += $$2; seen = 1} /^(Fail|Timeout|Unexpected Pass):/ {f += $$NF} \
		/^(Skipped|Expected Fail):/ {s += $$NF} END {print p + 0, f + 0, s + 0, seen + 0}' $(BUILD)/unit.log); \
	pass=$$1; fail=$$2; skip=$$3; \
	[ "$$4" = 1 ] || { echo "unit tests did not run: see $(BUILD)/unit.log"; fail=$$((fail + 1)); }; \
	add() { p=$$(echo "$$1" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed\(, \([0-9]*\) skipped\)\{0,1\}$$/\1 \2 \4/p'); \
		if [ -z "$$p" ]; then echo "$$2 did not report its result"; fail=$$((fail + 1)); return; fi; \
		set -- $$p; pass=$$((pass + $$1)); fail=$$((fail + $$2)); skip=$$((skip + $${3:-0})); }; \
	LOBO=$(abspath $(LOBO)) tests/integration/run 2>&1 | tee $(BUILD)/integration.log | sed '$$d'; \
	add "$$(tail -n1 $(BUILD)/integration.log)" integration; \
	if [ -x lab/run-all ]; then lab/run-all 2>&1 | tee $(BUILD)/lab.log | sed '$$d'; add "$$(tail -n1 $(BUILD)/lab.log)" lab; fi; \
	line="$$pass passed, $$fail failed"; [ "$$skip" -gt 0 ] && line="$$line, $$skip skipped"; \
	echo "$$line"; [ "$$fail" -eq 0 ]

demo: all
	@LOBO=$(abspath $(LOBO)) scripts/demo.sh

bench: all
	@if [ -x bench/run ]; then LOBO=$(abspath $(LOBO)) bench/run $(BENCH_ARGS); else echo "lobo: no bench/run yet"; fi

lab: all
	@if [ -x lab/run-all ]; then lab/run-all; else echo "lobo: no lab/run-all yet"; exit 1; fi

# Each libFuzzer target (tests/fuzz) for FUZZ_SECONDS, under ASan and UBSan.
fuzz: deps
	@[ -f $(FUZZ_BUILD)/build.ninja ] || CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=disabled \
		-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized >/dev/null
	@ninja -C $(FUZZ_BUILD) >$(FUZZ_BUILD)/ninja.log || { cat $(FUZZ_BUILD)/ninja.log; exit 1; }
	@tests/fuzz/run $(FUZZ_BUILD) $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD) build-asan $(FUZZ_BUILD)
