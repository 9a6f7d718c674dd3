#!/usr/bin/env bash
# Installs hebbd as a systemd service: the binary, the units (hebbd.service,
# and the template hebbd@.service for one daemon per config), the default
# config, the documentation and the example configs, plus the runtime
# packages it links against.
#
# It never starts, enables or reloads anything: it prints the systemctl line
# for the operator to run, so that installing (or staging into DESTDIR for a
# package) has no effect on the running system.
#
# Usage: scripts/install.sh [options]
#   --prefix DIR     install prefix for the binary and docs (default /usr/local,
#                    or $PREFIX); the units' ExecStart= follows it
#   --destdir DIR    stage everything under DIR (default $DESTDIR); with a
#                    DESTDIR, apt is not run (staging must not change the host)
#   --binary PATH    install this pre-built hebbd instead of building one
#   --config PATH    the default config to install (default Configs/hebbd.toml)
#   --no-apt         do not install the runtime packages
#   --dry-run        print what would be done, change nothing
#   -h, --help       this text
#
# The build is `swift build -c release --static-swift-stdlib`: the binary then
# needs only libc, libstdc++, libzmq5 and libopenblas0 on the target machine.
# If the static build fails, it falls back to a dynamic build (which needs the
# Swift runtime libraries where the toolchain put them) and says so.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="${PREFIX:-/usr/local}"
destdir="${DESTDIR:-}"
binary=""
config_src="$repo/Configs/hebbd.toml"
unit_src="$repo/systemd/hebbd.service"
template_src="$repo/systemd/hebbd@.service"
docs_src="$repo/docs"
configs_src="$repo/Configs"
dry_run=0
run_apt=1
runtime_packages=(libzmq5 libopenblas0)

usage() { sed -n '/^# Usage:/,/^# *-h, --help/{s/^# \{0,1\}//;p}' "$0"; }
die() { echo "install.sh: $*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --prefix) [[ $# -ge 2 ]] || die "--prefix needs a value"; prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --destdir) [[ $# -ge 2 ]] || die "--destdir needs a value"; destdir="$2"; shift 2 ;;
        --destdir=*) destdir="${1#*=}"; shift ;;
        --binary) [[ $# -ge 2 ]] || die "--binary needs a value"; binary="$2"; shift 2 ;;
        --binary=*) binary="${1#*=}"; shift ;;
        --config) [[ $# -ge 2 ]] || die "--config needs a value"; config_src="$2"; shift 2 ;;
        --config=*) config_src="${1#*=}"; shift ;;
        --no-apt) run_apt=0; shift ;;
        --dry-run|-n) dry_run=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

[[ "$prefix" == /* ]] || die "--prefix must be absolute, got '$prefix'"
[[ -z "$destdir" || "$destdir" == /* ]] || die "DESTDIR must be absolute, got '$destdir'"
destdir="${destdir%/}"
prefix="${prefix%/}"

bin_dir="$prefix/bin"
doc_dir="$prefix/share/doc/hebbd"
unit_dir="/etc/systemd/system"
config_dst="/etc/hebbd/hebbd.toml"

# Runs a command, or only shows it in a dry run.
run() {
    if [[ $dry_run -eq 1 ]]; then
        echo "would run: $*"
    else
        echo "+ $*"
        "$@"
    fi
}

# put SRC DST MODE: installs one file (creating directories), or only lists it
# in a dry run.
put() {
    local verb="install"
    [[ $dry_run -eq 1 ]] && verb="would install"
    echo "$verb $1 -> $2 ($3)"
    if [[ $dry_run -eq 0 ]]; then
        install -D -m "$3" "$1" "$2"
    fi
}

[[ -f "$unit_src" ]] || die "missing $unit_src"
[[ -f "$template_src" ]] || die "missing $template_src"
[[ -f "$config_src" ]] || die "missing default config $config_src"

# --- 1. Runtime packages -------------------------------------------------------
if [[ $run_apt -eq 1 && -n "$destdir" ]]; then
    echo "skipping apt: staging into DESTDIR=$destdir (the target needs: ${runtime_packages[*]})"
elif [[ $run_apt -eq 1 ]]; then
    if [[ $dry_run -eq 0 && $(id -u) -ne 0 ]]; then
        die "installing into / needs root (or use --destdir / --dry-run)"
    fi
    run apt-get install -y --no-install-recommends "${runtime_packages[@]}"
fi

# --- 2. The binary ---------------------------------------------------------------
if [[ -z "$binary" ]]; then
    if [[ $dry_run -eq 1 ]]; then
        echo "would run: swift build -c release --static-swift-stdlib --product hebbd (in $repo)"
        binary="$repo/.build/release/hebbd"
    else
        cd "$repo"
        if swift build -c release --static-swift-stdlib --product hebbd; then
            bin_path="$(swift build -c release --static-swift-stdlib --show-bin-path)"
        else
            echo "install.sh: WARNING: static Swift stdlib build failed; building dynamically." >&2
            echo "install.sh: WARNING: the binary then needs the Swift runtime libraries of this toolchain." >&2
            swift build -c release --product hebbd
            bin_path="$(swift build -c release --show-bin-path)"
        fi
        binary="$bin_path/hebbd"
    fi
fi
if [[ $dry_run -eq 0 ]]; then
    [[ -x "$binary" ]] || die "binary '$binary' is missing or not executable"
fi

# --- 3. Files ----------------------------------------------------------------------
put "$binary" "$destdir$bin_dir/hebbd" 0755

# put_unit SRC: installs a unit into /etc/systemd/system. The units name
# /usr/local/bin/hebbd and /usr/local/share/doc/hebbd; another prefix is
# written into the installed copy.
put_unit() {
    local src="$1" dst="$destdir$unit_dir/$(basename "$1")"
    if [[ "$prefix" == "/usr/local" ]]; then
        put "$src" "$dst" 0644
        return
    fi
    [[ $dry_run -eq 1 ]] && echo -n "would "
    echo "install $src -> $dst (0644)" \
        "with ExecStart=$bin_dir/hebbd, Documentation=file:$doc_dir/OPERATIONS.md"
    if [[ $dry_run -eq 0 ]]; then
        install -d -m 0755 "$(dirname "$dst")"
        sed -e "s|/usr/local/bin/hebbd|$bin_dir/hebbd|g" \
            -e "s|/usr/local/share/doc/hebbd|$doc_dir|g" \
            "$src" > "$dst.tmp"
        chmod 0644 "$dst.tmp"
        mv -f "$dst.tmp" "$dst"
    fi
}
put_unit "$unit_src"
# The template: hebbd@NAME runs /etc/hebbd/NAME.toml (docs/OPERATIONS.md,
# "Several instances"). Its configs are the operator's to write; examples go
# to the documentation below.
put_unit "$template_src"

# Never overwrite an operator's config: the new default goes beside it.
if [[ -e "$destdir$config_dst" ]]; then
    echo "keep existing $destdir$config_dst (the new default goes beside it as .dist)"
    put "$config_src" "$destdir$config_dst.dist" 0644
else
    put "$config_src" "$destdir$config_dst" 0644
fi

# Every docs/*.md (OPERATIONS.md is the units' Documentation=).
for doc in "$docs_src"/*.md; do
    [[ -f "$doc" ]] || continue
    put "$doc" "$destdir$doc_dir/$(basename "$doc")" 0644
done

# Every Configs/*.toml as an example (the sharded pair shard-a.toml and
# shard-b.toml is what hebbd@shard-a and hebbd@shard-b read once copied to
# /etc/hebbd).
for example in "$configs_src"/*.toml; do
    [[ -f "$example" ]] || continue
    put "$example" "$destdir$doc_dir/examples/$(basename "$example")" 0644
done

# --- 4. What the operator does next ------------------------------------------------
echo
if [[ $dry_run -eq 1 ]]; then
    echo "dry run: nothing was changed."
fi
echo "To start hebbd now and at every boot, run as root:"
echo "  systemctl daemon-reload && systemctl enable --now hebbd"
echo "Or, for one daemon per config /etc/hebbd/NAME.toml (e.g. the examples in"
echo "$doc_dir/examples/shard-a.toml and shard-b.toml), instead:"
echo "  systemctl daemon-reload && systemctl enable --now hebbd@shard-a hebbd@shard-b"
