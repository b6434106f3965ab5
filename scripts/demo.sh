#!/usr/bin/env bash
# The whole pipeline on the project's own sample reports, on CPU, in a few minutes:
# perturbed corpus → inspection → phantom radiographs → short pretraining → evaluation → explanation.
set -euo pipefail
OUT=${1:-out/demo}
RP=${RADPERTURB:-.venv/bin/radperturb}
rm -rf "$OUT"
mkdir -p "$OUT"

echo "== 1. a perturbed corpus of the 56 sample reports (and their parses, for reuse)"
$RP perturb data_samples/reports.jsonl -o "$OUT/corpus.jsonl" --per-kind 2 --seed 0 \
    --cache-parses "$OUT/parses.jsonl.gz"
head -c 600 "$OUT/corpus.jsonl"; echo; echo

echo "== 2. one report and its perturbations: the paper's nine and the four clinical edits"
$RP show "Small left pleural effusion. No pneumothorax. Mild cardiomegaly." --seed 0

echo "== 3. phantom radiographs rendered from the reports' MeSH tags, with a train/valid/test split"
$RP data phantoms --reports data_samples/reports.jsonl --out "$OUT/phantoms" --size 64 -q

echo "== 4. a short pretraining run (tiny encoders, all three losses, negatives of the paper's nine kinds drawn"
echo "      afresh each step)"
$RP pretrain "$OUT/phantoms/manifest.jsonl" -o "$OUT/run" --parse-cache "$OUT/parses.jsonl.gz" \
    --image-encoder tiny-resnet --text-encoder tiny-bert --image-size 64 --embed-dim 32 \
    --batch-size 8 -K 4 --max-steps 60 --lr-encoders 1e-3 --lr-heads 1e-3 --log-every 5 \
    --save-every 30 --device cpu

echo "== 5. evaluation on the held-out split: semantic structure, retrieval, classification"
$RP evaluate "$OUT/run" -m "$OUT/phantoms/manifest.jsonl" --out "$OUT/eval" \
    --parse-cache "$OUT/parses.jsonl.gz" --device cpu

echo "== 6. word-to-region attention of one report on its image"
IMAGE="$OUT/phantoms/images/sample-002.png"  # its report: small left effusion, mild cardiomegaly
$RP explain "$OUT/run" -i "$IMAGE" -r "Small left pleural effusion. Mild cardiomegaly." \
    -o "$OUT/explain.png" --device cpu

echo
echo "demo outputs in $OUT: corpus.jsonl, phantoms/, run/ (checkpoints, metrics.jsonl, loss_curve.png),"
echo "eval/ (evaluation.json and plots), explain.png"
