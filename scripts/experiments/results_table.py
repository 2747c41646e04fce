#!/usr/bin/env python3
"""Renders the JSON lines of scripts/experiments/table4.sh as the Markdown table of docs/results.md.

Usage: scripts/experiments/results_table.py [out/experiments/results.jsonl]
"""
import json
import re
import sys

ROWS = ["bilstm-crf", "bert-bilstm-crf", "nezha-bilstm-crf", "nezha-df", "nezha-df-fgm",
        "nezha-df-fgsm"]
# What a run's TAG stands for (table4.sh's OUT suffix): its initialisation and recipe changes;
# a trailing "seedN" marks a repeat with another SEED.
TAGS = {
    "mlm": "MLM encoder",
    "drop05": "dropout 0.5",
    "mlmemb": "MLM embeddings",
    "mlmemb-drop05": "MLM embeddings, dropout 0.5",
    "ep20": "random embeddings, 20 epochs",
    "bigram": "+ character bigrams",
    "sg-drop05": "skip-gram character vectors, dropout 0.5",
    "sg-bigram-drop05": "skip-gram character + bigram vectors, dropout 0.5",
    "sg-bigram300k-drop05": "skip-gram character + bigram vectors, 300,007 bigram rows, dropout 0.5",
}


def base_tag(r: dict) -> str:
    """The run's TAG without a trailing seedN: repeats of a setting differ only in seed."""
    return re.sub(r"-?seed\d+$", "", r.get("tag", ""))


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "out/experiments/results.jsonl"
    with open(path, encoding="utf-8") as f:
        lines = [json.loads(line) for line in f if line.strip()]
    lines.sort(key=lambda r: (r["dataset"], ROWS.index(r["row"]) if r["row"] in ROWS else 99,
                              base_tag(r), r["seed"] != 42, r["seed"]))
    print("| corpus | row | initialisation, recipe | dev F1 | test P | test R | test F1 | "
          "train wall time | seed |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in lines:
        t = r["test"]
        minutes = r["train_seconds"] / 60
        tag = base_tag(r)
        setting = TAGS.get(tag, tag) or ("random embeddings" if r["row"] == "bilstm-crf"
                                         else "from scratch")
        dev = f"{100 * r['dev_f1']:.2f}" if "dev_f1" in r else "—"
        print(f"| {r['dataset']} | {r['row']} | {setting} | {dev} | {100 * t['precision']:.2f} | "
              f"{100 * t['recall']:.2f} | **{100 * t['f1']:.2f}** | {minutes:.0f} min | "
              f"{r['seed']} |")


if __name__ == "__main__":
    main()
