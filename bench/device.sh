#!/usr/bin/env bash
# Runs on a lent GPU machine (the `device` tool), from the repository root, with $OUT set.
# That machine has Python 3.12, numpy, PyTorch and pytest but not islpy or cgen: carry
# wheels for it in the git-ignored .whl/ (made here with
#   pip download --python-version 3.12 --only-binary=:all: --platform manylinux_2_28_x86_64 \
#       islpy pytools pycparser platformdirs siphash24 typing_extensions -d .whl
#   pip wheel --no-deps cgen -w .whl
# and pass carry=[".whl"]).
#
#   bash bench/device.sh fuzz SECONDS [PROCS] [FIRST_SEED]   # polyk fuzz in PROCS processes
#   bash bench/device.sh cuda                                # CUDA tests, then bench/gpu.py
set -u
python3 -m pip install -q --no-index --no-deps .whl/*.whl 2>&1 | tail -2
python3 -m pip install -q --no-deps --no-build-isolation -e . 2>&1 | tail -2
case "$1" in
fuzz)
    secs=$2; procs=${3:-14}; base=${4:-1000000}
    mkdir -p /tmp/polyk-fuzz
    for p in $(seq 0 $((procs - 1))); do
        OMP_NUM_THREADS=1 python3 -c \
            'import sys; from polyk.cli import main; sys.exit(main(sys.argv[1:]))' \
            fuzz --seconds "$secs" --seed $((base + p * 20000)) --timeout 60 \
            > /tmp/polyk-fuzz/fuzz_$p.txt 2>&1 &
    done
    wait
    # few files come back from the device: one summary each
    grep -h "(final)" /tmp/polyk-fuzz/fuzz_*.txt > "$OUT/finals.txt"
    grep -h -A40 "^MISMATCH" /tmp/polyk-fuzz/fuzz_*.txt > "$OUT/mismatch.txt"
    grep -h -A24 "^ERROR" /tmp/polyk-fuzz/fuzz_*.txt > "$OUT/errors.txt"
    cat "$OUT/finals.txt"
    ;;
cuda)
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
    timeout 330 python3 -m pytest -q -p no:cacheprovider -n 8 tests/test_cuda.py \
        > "$OUT/cuda_tests.txt" 2>&1
    echo "cuda tests rc=$?"; tail -n 3 "$OUT/cuda_tests.txt"
    timeout 200 python3 bench/gpu.py --out "$OUT/gpu.json" > "$OUT/gpu.txt" 2>&1
    echo "gpu bench rc=$?"; tail -n 8 "$OUT/gpu.txt"
    ;;
*)
    echo "usage: bench/device.sh fuzz SECONDS [PROCS] [FIRST_SEED] | cuda" >&2; exit 2
    ;;
esac
