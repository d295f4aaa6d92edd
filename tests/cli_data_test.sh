#!/usr/bin/env bash
# `scalelaw data prepare` end to end: a BPE tokenizer of 512 tokens trained on
# 30 files of the default corpus, the files it writes (nanoGPT layout +
# meta.json), then `scalelaw train --data` on the prepared directory.
set -euo pipefail
scalelaw=$1
corpus=${2:-/usr/share/doc/python3.11/html/_sources}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

if [ ! -d "$corpus" ]; then
  echo "FAIL: default corpus $corpus missing (scripts/setup.sh installs python3.11-doc)"; exit 1
fi
# Every 16th file of the corpus, keeping relative paths (the split hashes them).
find "$corpus" -type f | LC_ALL=C sort | awk 'NR % 16 == 1' | head -30 | while read -r f; do
  rel=${f#"$corpus"/}
  mkdir -p "$dir/text/$(dirname "$rel")"
  cp "$f" "$dir/text/$rel"
done

"$scalelaw" data prepare --input "$dir/text" --out "$dir/bpe" --tokenizer bpe --vocab-size 512 \
  --val-fraction 0.2 | tee "$dir/prepare.txt"
grep -q "bytes/token" "$dir/prepare.txt"

/usr/bin/python3 - "$dir/bpe" <<'PY'
import json, os, sys
d = sys.argv[1]
meta = json.load(open(f"{d}/meta.json"))
assert meta["vocab_size"] == 512 and meta["tokenizer"] == "bpe", meta
assert meta["dtype"] == "uint16", meta
assert meta["documents"] == 30, meta
assert meta["train_documents"] > 0 and meta["val_documents"] > 0, meta
assert meta["val_fraction"] == 0.2, meta
for split in ("train", "val"):
    size = os.path.getsize(f"{d}/{split}.bin")
    assert size == 2 * meta[f"{split}_tokens"], (split, size, meta)
    # BPE compresses the text it was trained on (and the held-out text).
    assert meta[f"{split}_tokens"] < meta[f"{split}_bytes"] / 1.5, meta
tok = json.load(open(f"{d}/tokenizer.json"))
assert tok["vocab_size"] == 512 and len(tok["merges"]) == 256, tok["vocab_size"]
# Every token id is inside the vocabulary.
import array
ids = array.array("H"); ids.frombytes(open(f"{d}/train.bin", "rb").read())
assert max(ids) < 512
PY

"$scalelaw" train --data "$dir/bpe" --params 1e5 --tokens 2e5 --threads 1 --json > "$dir/train.json"
/usr/bin/python3 - "$dir/train.json" <<'PY'
import json, math, sys
r = json.load(open(sys.argv[1]))
assert r["vocab_size"] == 512 and r["tokenizer"] == "bpe", r
loss, entropy = r["final_val_loss"], r["unigram_entropy"]
assert math.isfinite(loss) and not r["diverged"], r
# Below a uniform guess over the vocabulary (ln 512 = 6.24; the first
# evaluation sits there). 49 steps do not reach the unigram entropy yet
# (5.47 vs 5.24 when written), so that is reported, not asserted.
assert loss < math.log(512) - 0.3, r
print(f"val loss {loss:.4f} nats/token, unigram entropy {entropy:.4f}, ln 512 = {math.log(512):.4f}")
PY
echo "data prepare + train --data: ok"
