#!/bin/sh
# bench/build-etcd-dump-logs.sh: build etcd-dump-logs 3.4 (the baseline of bench/wal.mjs) from Debian's
# etcd source package with Debian's Go toolchain and Debian's golang-*-dev packages (apt-get build-dep
# etcd). Downloads nothing but Debian packages: GOPROXY=off and GO111MODULE=off, GOPATH = a dir with
# the etcd sources at go.etcd.io/etcd + /usr/share/gocode (where the golang-*-dev packages install).
# The source tree, GOPATH and Go cache stay outside the repository (SRC_DIR, default /work/etcd-src).
#
#   sh bench/build-etcd-dump-logs.sh      # as root (apt); binary: bench/.cache/etcd-dump-logs
#   SRC_DIR=/work/etcd-src sh bench/build-etcd-dump-logs.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out="$here/.cache/etcd-dump-logs"
src_dir=${SRC_DIR:-/work/etcd-src}

# A deb-src entry for the configured Debian mirror (same URIs and suites as the deb entry).
if ! apt-cache showsrc etcd >/dev/null 2>&1 || [ -z "$(apt-cache showsrc etcd 2>/dev/null)" ]; then
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -n '/^Types: deb$/,/^$/p' /etc/apt/sources.list.d/debian.sources | sed 's/^Types: deb$/Types: deb-src/' \
      > /etc/apt/sources.list.d/debian-src.sources
  else
    grep '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' > /etc/apt/sources.list.d/debian-src.list
  fi
  apt-get update -qq
fi

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -qq dpkg-dev >/dev/null
# Debian's own build dependencies of etcd: golang-go and the golang-*-dev packages it builds against.
apt-get build-dep -y -qq etcd >/dev/null

mkdir -p "$src_dir"
cd "$src_dir"
[ -n "$(ls -d etcd-*/ 2>/dev/null)" ] || apt-get source -qq etcd
pkg=$(ls -d etcd-*/ | head -n 1)
pkg="$src_dir/${pkg%/}"

# A GOPATH with the etcd sources at their import path, over Debian's /usr/share/gocode.
gopath="$src_dir/gopath"
mkdir -p "$gopath/src/go.etcd.io"
ln -sfn "$pkg" "$gopath/src/go.etcd.io/etcd"
mkdir -p "$(dirname "$out")"
cd "$gopath/src/go.etcd.io/etcd"
GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off GOPROXY=off GOFLAGS= GOCACHE="$src_dir/gocache" \
  go build -o "$out" ./tools/etcd-dump-logs
"$out" --help 2>&1 | head -n 1 || true
echo "built $out from $(basename "$pkg") with $(go version)"
