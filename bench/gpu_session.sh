#!/bin/bash
# One lease of a GPU machine (the `device` tool, issue #24): bench_device.py, then one seed of
# weak_to_strong and of best_of_n side by side on the GPU, each cut at the time left. Everything it
# measures lands in $OUT: the bench's JSON and log, each run's log, nvidia-smi's utilisation and a
# tarball of the runs' events (per-stage seconds) and metrics. Run from the repository root:
#   bash bench/gpu_session.sh            # on the device machine, with .whl carried (README of device)
#   DEVICE=cpu BENCH_ARGS="--sizes micro --steps 2 --train-steps 20 --repeats 1 --matmul 256" \
#     RUN_SECONDS=30 OUT=/tmp/gpu_out bash bench/gpu_session.sh   # a dry run of the script here
set -u
OUT=${OUT:-/tmp/gpu_out}
DEVICE=${DEVICE:-cuda}
TOTAL=${TOTAL_SECONDS:-540}
SEED=${SEED:-11}
mkdir -p "$OUT"
start=$(date +%s)
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site:$PWD/src
  if ! python3 -c "import autoalign.models.lm, transformers" 2>"$OUT/import.log"; then
    rm -rf /tmp/site/transformers* /tmp/site/huggingface_hub* /tmp/site/kernels*  # fall back to the image's
  fi
else
  export PYTHONPATH=$PWD/src
fi
PY=${PY:-python3}
$PY -c "import torch, transformers; print('torch', torch.__version__, 'transformers', transformers.__version__, 'cuda', torch.cuda.is_available())" > "$OUT/env.txt" 2>&1
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >> "$OUT/env.txt" 2>&1
timeout "${BENCH_SECONDS:-150}" $PY bench/bench_device.py --device "$DEVICE" ${BENCH_ARGS:-} --out "$OUT/device-$DEVICE.json" > "$OUT/bench.log" 2>&1
echo "bench exit $? after $(( $(date +%s) - start )) s" >> "$OUT/env.txt"
(nvidia-smi dmon -s u -d 5 > "$OUT/dmon.txt" 2>&1 &)
left=${RUN_SECONDS:-$(( TOTAL - ($(date +%s) - start) ))}
R=/tmp/gpu_runs
rm -rf $R
for c in weak_to_strong best_of_n; do
  ( timeout "$left" $PY -m autoalign run configs/$c.yaml --set "seeds=[$SEED]" --set device=$DEVICE \
      --set threads=8 --run-dir $R/$c > "$OUT/$c.log" 2>&1; echo "$c exit $?" >> "$OUT/$c.log" ) &
done
wait
pkill -f "nvidia-smi dmon" 2>/dev/null
tar czf "$OUT/runs.tgz" --exclude=models --exclude=samples -C /tmp gpu_runs 2>/dev/null
echo "done after $(( $(date +%s) - start )) s" >> "$OUT/env.txt"
