#!/usr/bin/env bash
# The GPU rows of RESULTS.md in one device call (JAX, bf16, the papers' configurations), then a
# profiler trace of the slowest model. About 8 minutes on an H200. From the project root:
#   ../shared/gpu/prepare.sh            # here, once: stages the Keras wheels into .whl/
#   run(carry=[".whl"], timeout_s=570, kind="nvidia-h200", command=
#     "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
#      && export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax || exit 1; bash benchmarks/gpu.sh")
# Writes $OUT/gpu.jsonl (one JSON line per model), $OUT/gpu.md (the table), $OUT/trace.json.gz.
# A smoke test on a CPU: JAX_PLATFORMS=cpu STEPS=10 EXTRA="--preset small --size 32 --batch 4
# --generate-batch 4" bash benchmarks/gpu.sh
set -u
out=${OUT:-/tmp/gpu_out}
steps=${STEPS:-30}  # a multiple of 10: ten steps per compiled call
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.md" 2>&1
for model in dcgan-cls-plain dcgan-cls stackgan1 stackgan2 attngan; do
    timeout 150 python benchmarks/run.py --model "$model" --backend jax --precision mixed_bfloat16 \
        --steps "$steps" --warmup 10 --steps-per-execution 10 ${EXTRA:-} > "$out/$model.txt" 2>&1
    grep '^{' "$out/$model.txt" >> "$out/gpu.jsonl" || tail -5 "$out/$model.txt" >> "$out/gpu.md"
    grep '^|' "$out/$model.txt" | tail -1 >> "$out/gpu.md"
    rm -f "$out/$model.txt"
done
timeout 120 python benchmarks/run.py --model attngan --backend jax --precision mixed_bfloat16 \
    --steps 5 --warmup 5 ${EXTRA:-} --trace /tmp/trace | grep '^{' >> "$out/gpu.jsonl"
find /tmp/trace -name '*.trace.json.gz' -exec cp {} "$out/trace.json.gz" \;
cat "$out/gpu.md"
