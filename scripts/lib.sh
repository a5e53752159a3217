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

# Debian's rustc-web 1.96 (LLVM 22.1) and clang 22.1 from bookworm-security:
# C and Rust compiled by the same LLVM (CONFIG_CLANG_VERSION ==
# CONFIG_RUSTC_LLVM_VERSION), and a clang that, like GCC, puts no ENDBR64
# at asm goto targets (clang 19 did, LLVM 21 stopped: llvm-project#143439),
# so a patched static branch costs what it costs in distribution kernels.
KMAKE_VARS=(
	LLVM=-22
	RUSTC=/usr/bin/rustc
	RUSTDOC=/usr/bin/rustdoc
	BINDGEN="$(command -v bindgen || echo bindgen)"
	LIBCLANG_PATH=/usr/lib/llvm-22/lib
)
export LIBCLANG_PATH=/usr/lib/llvm-22/lib

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

# Our new files live in these top-level folders of the repository, at the
# path they take in the kernel tree.
OVERLAY_DIRS=(Documentation arch include kernel lib mm rust tools)

# overlay_files: our new files (tracked, or new and not ignored), one path
# a line.
overlay_files() {
	( cd "$ROOT" && git ls-files -co --exclude-standard -- "${OVERLAY_DIRS[@]}" ) |
	while read -r f; do [ ! -f "$ROOT/$f" ] || echo "$f"; done
}

# assemble_tree: writes the objects of our tree (the base, then patches/,
# then our new files) into the rust tree's repository and prints its git
# tree; GIT_INDEX_FILE is a scratch index. scripts/tree checks it out.
assemble_tree() {
	local src p idx f mode sha
	src=$(tree_dir rust)
	idx=$(mktemp)
	(
		export GIT_INDEX_FILE=$idx
		git -C "$src" read-tree base
		for p in "$ROOT"/patches/*.patch; do
			[ -f "$p" ] || continue
			git -C "$src" apply --cached --whitespace=nowarn "$p" 2>"$idx.err" || {
				cat "$idx.err" >&2
				die "patch does not apply: ${p#"$ROOT"/}"
			}
		done
		overlay_files | while read -r f; do
			mode=100644; [ -x "$ROOT/$f" ] && mode=100755
			sha=$(git -C "$src" hash-object -w "$ROOT/$f")
			printf '%s %s\t%s\n' "$mode" "$sha" "$f"
		done | git -C "$src" update-index --add --index-info
		git -C "$src" write-tree
	)
	local rc=$?
	rm -f "$idx" "$idx.err"
	return $rc
}
