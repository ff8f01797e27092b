#!/usr/bin/env python3
"""Deterministic SST-2 splits for the shipped sentiment teacher and `distilbert quickstart`.

GLUE's SST-2 dev set is held out, so validation comes out of the training file:
  validation.tsv    1,000 full sentences (>= 8 words), seeded choice
  teacher-train.tsv every other row except phrases contained in a validation sentence (SST-2 lists the phrases
                    of each sentence as separate rows; dropping them keeps validation unseen); not shipped
  distill-train.tsv 8,000 rows of teacher-train.tsv (seeded): the quickstart's distillation data

usage: split_sst2.py ../shared/data/sst2/train.tsv OUT_DIR
"""
import random
import sys

src, out = sys.argv[1], sys.argv[2]
with open(src, encoding="utf-8") as f:
    header = f.readline()
    rows = [line.rstrip("\n").split("\t") for line in f if line.strip()]

rng = random.Random(20261125)
long_rows = [i for i, (s, _) in enumerate(rows) if len(s.split()) >= 8]
validation_idx = set(rng.sample(long_rows, 1000))
validation = [rows[i] for i in sorted(validation_idx)]
val_sentences = [" " + s.strip() + " " for s, _ in validation]

def leaks(sentence):
    needle = " " + sentence.strip() + " "
    return any(needle in v for v in val_sentences)

teacher = [r for i, r in enumerate(rows) if i not in validation_idx and not leaks(r[0])]
distill = rng.sample(teacher, 8000)

def write(name, data):
    with open(f"{out}/{name}", "w", encoding="utf-8", newline="\n") as f:
        f.write(header)
        for s, label in data:
            f.write(f"{s}\t{label}\n")

write("validation.tsv", validation)
write("teacher-train.tsv", teacher)
write("distill-train.tsv", distill)
print(f"rows {len(rows)}: validation {len(validation)}, teacher-train {len(teacher)} "
      f"(dropped {len(rows) - len(validation) - len(teacher)} phrases of validation sentences), distill-train {len(distill)}")
