#!/usr/bin/env bash
# Builds and runs hebbd's libFuzzer targets (Fuzz/README.md).
#
#   Fuzz/run.sh [--runs N | --seconds S] [--seed N] [--jobs-dir DIR] [target…]
#
# targets: sample_decoder control_request config_loader checkpoint_reader (default: all four, one after the other).
# --runs N     stop each target after N inputs (default 10000: the short pass scripts/test.sh runs)
# --seconds S  stop each target after S seconds instead
# --seed N     libFuzzer's random seed (default: a new one per run, to explore; scripts/test.sh passes a fixed one so
#              that CI's short pass is the same run every time and a failure there reproduces)
#
# How it builds: SwiftPM compiles the package's HebbCore module and its dependencies into .build-fuzz (a scratch
# path of its own, release, with -sanitize=fuzzer,address: coverage instrumentation and AddressSanitizer); then
# swiftc compiles each target's file (Fuzz/Targets/<target>.swift + Fuzz/Support/FuzzSupport.swift) against
# those modules, with the package's own -package-name so that `package` declarations are visible, and links it
# with their object files and clang's libFuzzer runtime (which the Swift toolchain ships). The targets live
# outside Sources/, so normal builds never see them.
#
# Each run starts from a copy of the seed corpus (Fuzz/Corpus/<target>) in .build-fuzz/corpus/<target>, plus
# the minimized regression inputs of Fuzz/Regressions/<target>, with the target's dictionary. A crash (or a failed
# invariant, or a leak/overflow ASan finds) stops the run, leaves the input in .build-fuzz/artifacts/<target>/,
# and makes the script exit non-zero. The last line of each target's log (.build-fuzz/logs/<target>.log) has
# libFuzzer's counts; the script prints inputs, executions per second and the result per target.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

runs=10000
seconds=""
seed=""
targets=()
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) runs="$2"; seconds=""; shift 2 ;;
        --seconds) seconds="$2"; runs=""; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
        -*) echo "Fuzz/run.sh: unknown option $1" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
all=(sample_decoder control_request config_loader checkpoint_reader)
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")
for t in "${targets[@]}"; do
    [ -f "Fuzz/Targets/$t.swift" ] || { echo "Fuzz/run.sh: no target $t (have: ${all[*]})" >&2; exit 2; }
done

# libFuzzer's runtime: clang's compiler-rt, shipped in the Swift toolchain's clang resource directory. Without it
# swiftc -sanitize=fuzzer cannot link; say so plainly rather than skipping.
swiftc_path="$(command -v swiftc || true)"
[ -n "$swiftc_path" ] || { echo "Fuzz/run.sh: swiftc not found on PATH" >&2; exit 1; }
toolchain="$(dirname "$(dirname "$(readlink -f "$swiftc_path")")")"
fuzzer_rt="$(ls "$toolchain"/lib/clang/*/lib/linux/libclang_rt.fuzzer-"$(uname -m)".a 2>/dev/null | head -n 1 || true)"
if [ -z "$fuzzer_rt" ]; then
    echo "Fuzz/run.sh: libFuzzer runtime (libclang_rt.fuzzer-$(uname -m).a) not found under $toolchain/lib/clang/*/lib/linux." >&2
    echo "  The fuzz targets need a Swift toolchain that ships clang's compiler-rt (swift.org's Linux toolchains do)." >&2
    exit 1
fi

scratch="$root/.build-fuzz"
config=release
echo "fuzz: building HebbCore with -sanitize=fuzzer,address into $scratch"
mkdir -p "$scratch"
# (-Xcc: the C step kernels read the decoded frames too, so they get coverage and AddressSanitizer as well.)
swift build -c "$config" --build-path "$scratch" --target HebbCore -Xswiftc -sanitize=fuzzer,address -Xswiftc -g \
    -Xcc -fsanitize=fuzzer-no-link,address \
    > "$scratch/build.log" 2>&1 || { tail -n 40 "$scratch/build.log" >&2; echo "Fuzz/run.sh: swift build failed (log: $scratch/build.log)" >&2; exit 1; }
bin="$scratch/$config"
# The package name SwiftPM compiled HebbCore with (derived from the checkout's directory name): the targets must use
# the same one to see `package` declarations.
package_name="$(grep -o '"-module-name","HebbCore"[^]]*"-package-name","[^"]*"' "$scratch/$config.yaml" | head -n 1 | sed 's/.*"-package-name","//; s/"$//')"
if [ -z "$package_name" ]; then
    package_name="$(grep -o '"-package-name","[^"]*"' "$scratch/$config.yaml" | sed 's/.*","//; s/"$//' | sort | uniq -c | sort -rn | awk 'NR==1 {print $2}')"
fi
ctoml_map="$bin/CTOML.build/module.modulemap"
ctoml_include="$(sed -n 's/.*umbrella header "\(.*\)\/CTOML\/CTOML.h".*/\1/p' "$ctoml_map")"
# The step kernels are a C target: SwiftPM writes its module map beside its objects.
kernels_map="$bin/CHebbKernels.build/module.modulemap"
objects=()
for module in HebbCore HebbianRegression CHebbKernels Logging TOMLKit CTOML; do
    while IFS= read -r -d '' o; do objects+=("$o"); done < <(find "$bin/$module.build" -name '*.o' -print0)
done

mkdir -p "$scratch/fuzzers" "$scratch/logs" "$scratch/corpus" "$scratch/artifacts"
status=0
summary=()
for t in "${targets[@]}"; do
    exe="$scratch/fuzzers/$t"
    echo "fuzz: compiling $t"
    swiftc -O -g -sanitize=fuzzer,address -parse-as-library -package-name "$package_name" -module-name "Fuzz_$t" \
        -I "$bin/Modules" -I "$root/Sources/CBLAS" -Xcc -fmodule-map-file="$ctoml_map" -Xcc -I"$ctoml_include" \
        -Xcc -fmodule-map-file="$kernels_map" -Xcc -I"$root/Sources/CHebbKernels/include" \
        "$root/Fuzz/Support/FuzzSupport.swift" "$root/Fuzz/Targets/$t.swift" "${objects[@]}" \
        -lopenblas -lstdc++ -o "$exe" > "$scratch/logs/$t.compile.log" 2>&1 \
        || { grep -v "Cannot export local symbol" "$scratch/logs/$t.compile.log" | tail -n 40 >&2; echo "Fuzz/run.sh: compiling $t failed" >&2; exit 1; }
    corpus="$scratch/corpus/$t"
    mkdir -p "$corpus" "$scratch/artifacts/$t"
    cp -n "$root/Fuzz/Corpus/$t/"* "$corpus/" 2>/dev/null || true
    seeds=("$corpus")
    [ -d "$root/Fuzz/Regressions/$t" ] && seeds+=("$root/Fuzz/Regressions/$t")
    dict="$root/Fuzz/Dictionaries/json.dict"
    [ "$t" = config_loader ] && dict="$root/Fuzz/Dictionaries/toml.dict"
    [ "$t" = checkpoint_reader ] && dict=""
    limit=(-runs="$runs")
    [ -n "$seconds" ] && limit=(-max_total_time="$seconds")
    [ -n "$seed" ] && limit+=(-seed="$seed")
    log="$scratch/logs/$t.log"
    echo "fuzz: running $t (${limit[*]}) — log $log"
    # -rss_limit_mb: a target that needs more than 2 GiB is a finding; -max_len 256 KiB covers the seeds.
    if ASAN_OPTIONS="detect_leaks=0" OPENBLAS_NUM_THREADS=1 \
        "$exe" "${limit[@]}" -rss_limit_mb=2048 -max_len=262144 -timeout=10 -print_final_stats=1 \
        ${dict:+-dict="$dict"} -artifact_prefix="$scratch/artifacts/$t/" "${seeds[@]}" > "$log" 2>&1; then
        result="no crash"
    else
        result="CRASH (exit $?; artifacts in $scratch/artifacts/$t/)"
        status=1
        tail -n 40 "$log" >&2
    fi
    inputs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    line="$t: ${inputs:-?} inputs, ${speed:-?} exec/s, $result"
    summary+=("$line")
    echo "fuzz: $line"
done
echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
exit "$status"
