# Entry points for people and CI. `make run` and `make test` are the README's
# quick start; both install what they need first (scripts/install-deps.sh).
.PHONY: deps build bundle run test lint install uninstall clean

deps:
	@scripts/install-deps.sh

build: deps
	npm run --silent build

# The main job. Until the daemons run here it shows the resolved host identity
# (or how to create it: a fresh machine has none yet, which is not a failure
# of this command) and validates the shipped configuration files.
run: build
	-node packages/stasadm/bin/stasadm.js show
	node packages/stasadm/bin/stasadm.js check etc/stas/sys.conf etc/stas/stafd.conf etc/stas/stacd.conf

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
