#!/usr/bin/env bash
# Fetches the public corpora into DIR (default ./data) for machines without the shared folder.
# Sources are pinned to the commits named in the shared data README. The People's Daily training
# split used in this project's experiments is a reconstruction that cannot be downloaded (see
# docs/data.md); this script fetches the published dev/test splits and the MSRA training text
# it was rebuilt from is left to the user.
# Needs curl and internet access (not available on the project's build machines).
set -euo pipefail
DIR=${1:-data}
mkdir -p "$DIR/resume" "$DIR/peoples-daily" "$DIR/vocab"

fetch() {  # url destination
  local tmp
  tmp=$(mktemp "$2.XXXXXX")
  curl -fsSL --retry 3 "$1" -o "$tmp"
  mv "$tmp" "$2"
  echo "fetched $2"
}

LATTICE=https://raw.githubusercontent.com/jiesutd/LatticeLSTM/24d17f42/ResumeNER
for split in train dev test; do
  fetch "$LATTICE/$split.char.bmes" "$DIR/resume/$split.char.bmes"
done
ZJY=https://raw.githubusercontent.com/zjy-ucas/ChineseNER/48e1007e/data
fetch "$ZJY/example.dev" "$DIR/peoples-daily/dev.txt"
fetch "$ZJY/example.test" "$DIR/peoples-daily/test.txt"
fetch "$ZJY/example.train" "$DIR/peoples-daily/train.txt"
fetch https://huggingface.co/bert-base-chinese/resolve/main/vocab.txt \
  "$DIR/vocab/bert-base-chinese-vocab.txt"
echo "done; point NER_SHARED_DIR at the folder holding '$DIR' as data/"
