#!/usr/bin/env bash
# The GPU rows of RESULTS.md in one device call (JAX, bf16, the papers' configurations), then a
# profiler trace of the slowest model. About 9 minutes on an H200. From the project root:
#   ../shared/gpu/prepare.sh            # here, once: stages the Keras wheels into .whl/
#   run(carry=[".whl"], timeout_s=570, kind="nvidia-h200", command=
#     "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
#      && export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax || exit 1; bash benchmarks/gpu.sh")
# Writes $OUT/gpu.jsonl (one JSON line per model; the traced run's line has slowest_operations),
# $OUT/gpu.md (the card, then the table of the benchmark rows), $OUT/trace.json.gz. Each model
# runs in a process of its own (JAX's peak memory is the process's) and every run stops by the
# deadline BUDGET seconds after the start (default 540, inside the call's 570), so a slow model
# costs its own row, never the ones after it or the table.
# A smoke test on a CPU: JAX_PLATFORMS=cpu STEPS=10 EXTRA="--preset small --size 32 --batch 4
# --generate-batch 4" bash benchmarks/gpu.sh
set -u
out=${OUT:-/tmp/gpu_out}
steps=${STEPS:-30}  # a multiple of 10: ten steps per call
python=${PYTHON:-python3}
deadline=$((SECONDS + ${BUDGET:-540}))
mkdir -p "$out"
rm -rf "$out/gpu.jsonl" "$out/gpu.md" "$out/trace.json.gz" /tmp/trace
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.md" 2>&1
limit() {  # seconds for the next run: at most $1, and 30 s are kept for the table
    local left=$((deadline - SECONDS - 30))
    echo $((left < $1 ? (left > 0 ? left : 1) : $1))
}
for model in dcgan-cls-plain dcgan-cls stackgan1 stackgan2 attngan dfgan; do
    timeout "$(limit 150)" "$python" benchmarks/run.py --model "$model" --backend jax --precision mixed_bfloat16 \
        --steps "$steps" --warmup 10 --steps-per-execution 10 ${EXTRA:-} > "$out/$model.txt" 2>&1
    grep '^{' "$out/$model.txt" >> "$out/gpu.jsonl" || { echo "$model failed:"; tail -5 "$out/$model.txt"; } >> "$out/gpu.md"
    rm -f "$out/$model.txt"
done
timeout "$(limit 120)" "$python" benchmarks/run.py --model attngan --backend jax --precision mixed_bfloat16 \
    --steps 5 --warmup 5 ${EXTRA:-} --trace /tmp/trace | grep '^{' >> "$out/gpu.jsonl"
find /tmp/trace -name '*.trace.json.gz' -exec cp {} "$out/trace.json.gz" \;
"$python" - "$out/gpu.jsonl" >> "$out/gpu.md" <<'PY'
import json, sys
sys.path.insert(0, "benchmarks")
from run import markdown
rows = [json.loads(line) for line in open(sys.argv[1])]
print(markdown([row for row in rows if "slowest_operations" not in row]))
PY
cat "$out/gpu.md"
