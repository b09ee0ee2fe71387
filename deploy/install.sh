#!/bin/sh
# Installs a built swapmesh as an always-on node: the binary, the systemd unit,
# the man pages and the shell completions, each where its tools look for it.
#
#   cargo build --release -p swapmesh-node
#   sudo deploy/install.sh                  # PREFIX=/usr/local, DESTDIR= for packaging
#
# Then create the service user and data directory and start it as the unit's
# header says (deploy/swapmesh.service).
set -eu

cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/swapmesh}
PREFIX=${PREFIX:-/usr/local}
DESTDIR=${DESTDIR:-}
UNITDIR=${UNITDIR:-/etc/systemd/system}

if [ ! -x "$BIN" ]; then
    echo "error: no $BIN; build it first with: cargo build --release -p swapmesh-node" >&2
    exit 1
fi

install -d "$DESTDIR$PREFIX/bin" "$DESTDIR$UNITDIR" \
    "$DESTDIR$PREFIX/share/man/man1" \
    "$DESTDIR$PREFIX/share/bash-completion/completions" \
    "$DESTDIR$PREFIX/share/zsh/site-functions" \
    "$DESTDIR$PREFIX/share/fish/vendor_completions.d"

install -m 0755 "$BIN" "$DESTDIR$PREFIX/bin/swapmesh"
install -m 0644 deploy/swapmesh.service "$DESTDIR$UNITDIR/swapmesh.service"

# Man pages: swapmesh.1 and one per subcommand (man swapmesh-listing-add).
"$BIN" man "$DESTDIR$PREFIX/share/man/man1" >/dev/null

# Completions, generated from the same definition the binary parses with.
"$BIN" completions bash >"$DESTDIR$PREFIX/share/bash-completion/completions/swapmesh"
"$BIN" completions zsh >"$DESTDIR$PREFIX/share/zsh/site-functions/_swapmesh"
"$BIN" completions fish >"$DESTDIR$PREFIX/share/fish/vendor_completions.d/swapmesh.fish"

echo "installed swapmesh into $DESTDIR$PREFIX, its unit into $DESTDIR$UNITDIR"
