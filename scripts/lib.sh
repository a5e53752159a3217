# Shared settings for the scripts; sourced, not run.
# shellcheck shell=bash

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# Everything generated (kernel trees, build outputs, initramfs, logs) lives
# here; git ignores it. Point ALLOC_TAG_BUILD elsewhere to share a cache.
BUILD=${ALLOC_TAG_BUILD:-$ROOT/build}
LINUX_TARBALL=${LINUX_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
# Upstream's own C implementation of the series, the benchmark's anchor.
UPSTREAM_PACKAGE=linux-source-7.3
UPSTREAM_SUITE=trixie-backports
JOBS=${JOBS:-$(($(nproc) + 1))}
export PATH="$HOME/.cargo/bin:$PATH"

# The toolchain of ../shared/toolchain.md: Debian's rustc-web, clang 19.
KMAKE_VARS=(
	LLVM=-19
	RUSTC=/usr/bin/rustc
	RUSTDOC=/usr/bin/rustdoc
	BINDGEN="$(command -v bindgen || echo bindgen)"
	LIBCLANG_PATH=/usr/lib/llvm-19/lib
)
export LIBCLANG_PATH=/usr/lib/llvm-19/lib

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The two trees: ours (base + our files + patches) and the C reference.
tree_dir() { echo "$BUILD/src-$1"; }      # rust | ref | upstream
out_dir() { echo "$BUILD/out-$1-${2:-default}"; }  # kernel, config

kmake() {
	local kind=$1 config=$2; shift 2
	make -C "$(tree_dir "$kind")" O="$(out_dir "$kind" "$config")" \
		"${KMAKE_VARS[@]}" -j"$JOBS" "$@"
}
