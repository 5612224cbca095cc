# Entry points for people and CI. `make run` and `make test` are the README's
# quick start; both install what they need first (scripts/install-deps.sh).
.PHONY: deps build bundle run test lint install uninstall clean

deps:
	@scripts/install-deps.sh

build: deps
	npm run --silent build

# The main job: stafd + stacd in the foreground on embedded defaults (private
# bus, temporary identity, dry run where the system is not set up; see
# scripts/run.sh). `make run ARGS=--demo` adds a demo discovery controller.
# Ctrl-C stops everything it started.
run: build
	scripts/run.sh $(ARGS)

test: deps
	npm test

# Single-file executables for installation (dist/bundle/*.mjs).
bundle: build
	node scripts/bundle.mjs

# DESTDIR and PREFIX (default /usr) are honoured; see scripts/install.sh.
install: bundle
	scripts/install.sh install

uninstall:
	scripts/install.sh uninstall

lint: deps
	npm run --silent lint

clean:
	npm run --silent clean
