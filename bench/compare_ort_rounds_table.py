#!/usr/bin/python3
"""Table of bench/compare_ort_rounds.sh: per-round times and ratios, their medians. Usage: compare_ort_rounds_table.py OUT"""
import json, sys, statistics as st
OUT = sys.argv[1]
rows = []
for r in range(1, 100):
    try:
        o = json.load(open(f"{OUT}/ort-{r}.json")); m1 = json.load(open(f"{OUT}/model1-{r}.json")); m32 = json.load(open(f"{OUT}/model32-{r}.json"))
    except Exception as e:
        continue
    ort = {s["batch"]: s["median_s"] * 1000 for s in o["scenarios"]}
    rows.append((r, ort[1], m1["median_ms"], ort[32], m32["median_ms"], o["vmhwm_kb"] / 1024, m1["peak_rss_mib"], m32["peak_rss_mib"]))
for row in rows:
    print("round %d: 1x128 ORT %.1f ours %.1f (ratio %.2f) | 32x128 ORT %.0f ours %.0f (ORT/ours %.2f) | RSS ORT %.0f ours %.0f/%.0f" % (row[0], row[1], row[2], row[2]/row[1], row[3], row[4], row[3]/row[4], row[5], row[6], row[7]))
if rows:
    print("median latency ratio ours/ORT %.2f; median throughput ORT/ours %.2f" % (st.median([r[2]/r[1] for r in rows]), st.median([r[3]/r[4] for r in rows])))
    print("medians: ORT 1x128 %.1f, ours %.1f; ORT 32x128 %.0f, ours %.0f" % (st.median([r[1] for r in rows]), st.median([r[2] for r in rows]), st.median([r[3] for r in rows]), st.median([r[4] for r in rows])))
