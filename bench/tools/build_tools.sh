#!/usr/bin/env bash
# Builds mongodump and mongorestore from the Go module github.com/mongodb/mongo-tools,
# pinned in bench/tools/go.mod (+ go.sum), into build/tools/. Used by bench/tools/compare.sh.
#
#   bench/tools/build_tools.sh          build (skipped when the stamp matches)
#
# - Go: the `go` on PATH if it is new enough (mongo-tools' go.mod says go 1.25.11);
#   otherwise the Go toolchain module golang.org/toolchain@v0.0.1-go$GO_VERSION from the Go
#   module proxy (the same zip `GOTOOLCHAIN=go1.x` downloads) unpacked under build/go/.
# - mongorestore is built with `go build -overlay` replacing one source file (in a copy
#   of the pinned module under build/tools/: go refuses overlays inside GOMODCACHE),
#   common/db/empty_timestamp.go, patched by ferretdb-no-bypass-empty-ts.patch: FerretDB
#   v1.24 reports a 7.0.x version, so stock mongorestore adds `bypassEmptyTsReplacement: true`
#   to every insert and FerretDB refuses the unknown field. The patch never sends it
#   (documents with a zero Timestamp then take mongorestore's pre-5.0 fallback path).
#   mongodump is built unpatched.
# - Why the wrapper module needs the version written in go.mod by hand: proxy.golang.org
#   serves this pseudo-version's .mod and .zip but answers 403 for its .info and for the
#   module's version list, so `go get` / `go list -m -versions` fail; `go build` with the
#   version already in go.mod only needs .mod and .zip (hence GOFLAGS=-mod=mod, which
#   lets go build fill go.sum).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/bench/tools
OUT=$ROOT/build/tools
GO_VERSION=${GO_VERSION:-1.26.8}     # used only when no suitable go is on PATH
GO_MIN_MINOR=25
MT=github.com/mongodb/mongo-tools
say() { echo "build_tools: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }
mkdir -p "$OUT"

go_ok() {
  local v; v=$("$1" env GOVERSION 2>/dev/null) || return 1
  v=${v#go}
  local major=${v%%.*} rest=${v#*.}
  local minor=${rest%%.*}
  ((major > 1 || (major == 1 && minor >= GO_MIN_MINOR)))
}

GO=
if command -v go >/dev/null && go_ok go; then
  GO=$(command -v go)
elif [[ -x $ROOT/build/go/bin/go ]] && go_ok "$ROOT/build/go/bin/go"; then
  GO=$ROOT/build/go/bin/go
else
  zip=$ROOT/build/go-toolchain-$GO_VERSION.zip
  url=https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-go$GO_VERSION.linux-amd64.zip
  say "no go >= 1.$GO_MIN_MINOR on PATH; downloading $url"
  command -v unzip >/dev/null || die "unzip is needed to unpack Go (apt-get install unzip)"
  curl -fsSL -o "$zip.tmp" "$url" || die "download of Go $GO_VERSION failed"
  rm -rf "$ROOT/build/go" "$ROOT/build/go-unpack"
  unzip -q "$zip.tmp" -d "$ROOT/build/go-unpack"
  mv "$ROOT/build/go-unpack/golang.org/toolchain@v0.0.1-go$GO_VERSION.linux-amd64" "$ROOT/build/go"
  rm -rf "$ROOT/build/go-unpack" "$zip.tmp"
  chmod +x "$ROOT/build/go/bin/"* "$ROOT/build/go/pkg/tool/"*/* 2>/dev/null || true
  GO=$ROOT/build/go/bin/go
  go_ok "$GO" || die "unpacked Go at $GO does not run"
fi

MT_VERSION=$(awk -v m="$MT" '$1 == "require" && $2 == m {print $3} $1 == m {print $2}' "$HERE/go.mod" | head -n1)
[[ -n $MT_VERSION ]] || die "no $MT requirement in $HERE/go.mod"
stamp=$( { cat "$HERE/go.mod" "$HERE/go.sum" "$HERE/ferretdb-no-bypass-empty-ts.patch"; "$GO" env GOVERSION; } | sha256sum | cut -d' ' -f1)
if [[ -x $OUT/mongodump && -x $OUT/mongorestore && -f $OUT/.stamp && $(<"$OUT/.stamp") == "$stamp" ]]; then
  say "up to date: $OUT/mongodump, $OUT/mongorestore ($MT $MT_VERSION)"
  exit 0
fi

export GOTOOLCHAIN=local GOFLAGS="-mod=mod -trimpath" GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
cd "$HERE"
# `go list -m` and `go mod download` would ask for the 403ing .info; go build does not.
ldflags="-X main.VersionStr=$MT_VERSION"
t0=$SECONDS
say "go build mongodump ($MT $MT_VERSION, $("$GO" env GOVERSION); downloads the modules)"
"$GO" build -ldflags "$ldflags" -o "$OUT/mongodump.tmp" "$MT/mongodump/main"
MOD_DIR=$("$GO" env GOMODCACHE)/$MT@$MT_VERSION
[[ -f $MOD_DIR/common/db/empty_timestamp.go ]] || die "no $MOD_DIR/common/db/empty_timestamp.go"

# mongorestore: go build refuses an -overlay that replaces a file under GOMODCACHE, so it
# is built inside a plain copy of the pinned module (the same bytes go.sum verified above;
# its own go.sum pins its dependencies), with the overlay replacing the copy's file.
SRC=$OUT/mongo-tools-src
rm -rf "$SRC"; cp -r "$MOD_DIR" "$SRC"; chmod -R u+w "$SRC"
OV=$OUT/overlay
rm -rf "$OV"; mkdir -p "$OV/common/db"
cp "$SRC/common/db/empty_timestamp.go" "$OV/common/db/empty_timestamp.go"
(cd "$OV" && patch -s -p1 <"$HERE/ferretdb-no-bypass-empty-ts.patch") || die "patch does not apply to $MT $MT_VERSION"
printf '{"Replace":{"%s":"%s"}}\n' "$SRC/common/db/empty_timestamp.go" \
  "$OV/common/db/empty_timestamp.go" >"$OV/overlay.json"
say "go build mongorestore (in $SRC, -overlay $OV/overlay.json)"
(cd "$SRC" && "$GO" build -ldflags "$ldflags" -overlay "$OV/overlay.json" \
   -o "$OUT/mongorestore.tmp" ./mongorestore/main)
mv -f "$OUT/mongodump.tmp" "$OUT/mongodump"
mv -f "$OUT/mongorestore.tmp" "$OUT/mongorestore"
echo "$MT_VERSION" >"$OUT/VERSION"
echo "$stamp" >"$OUT/.stamp"
say "built $OUT/mongodump and $OUT/mongorestore ($MT $MT_VERSION) in $((SECONDS - t0))s"
