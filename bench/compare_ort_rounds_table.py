#!/usr/bin/python3
"""Table of bench/compare_ort_rounds.sh: per-round times and ratios, their medians, and best against best.
Usage: compare_ort_rounds_table.py OUT [OUT2 ...]   (several runs' rounds are numbered on in order)"""
import json, sys, statistics as st
rows = []
for out in sys.argv[1:]:
    for r in range(1, 100):
        try:
            o = json.load(open(f"{out}/ort-{r}.json")); m1 = json.load(open(f"{out}/model1-{r}.json")); m32 = json.load(open(f"{out}/model32-{r}.json"))
        except Exception:
            continue
        ort = {s["batch"]: s["median_s"] * 1000 for s in o["scenarios"]}
        rows.append((len(rows) + 1, ort[1], m1["median_ms"], ort[32], m32["median_ms"], o["vmhwm_kb"] / 1024, m1["peak_rss_mib"], m32["peak_rss_mib"]))
for row in rows:
    print("round %d: 1x128 ORT %.1f ours %.1f (ratio %.2f) | 32x128 ORT %.0f ours %.0f (ORT/ours %.2f) | RSS ORT %.0f ours %.0f/%.0f" % (row[0], row[1], row[2], row[2]/row[1], row[3], row[4], row[3]/row[4], row[5], row[6], row[7]))
if rows:
    lat = [r[2] / r[1] for r in rows]
    print("latency ratio ours/ORT: median %.2f, range %.2f-%.2f; median throughput ORT/ours %.2f" % (st.median(lat), min(lat), max(lat), st.median([r[3]/r[4] for r in rows])))
    print("medians: ORT 1x128 %.1f, ours %.1f; ORT 32x128 %.0f, ours %.0f" % (st.median([r[1] for r in rows]), st.median([r[2] for r in rows]), st.median([r[3] for r in rows]), st.median([r[4] for r in rows])))
    b1o, b1u, b32o, b32u = min(r[1] for r in rows), min(r[2] for r in rows), min(r[3] for r in rows), min(r[4] for r in rows)
    print("best of %d: ORT 1x128 %.1f, ours %.1f (ratio %.3f); ORT 32x128 %.0f, ours %.0f (ORT/ours %.2f)" % (len(rows), b1o, b1u, b1u / b1o, b32o, b32u, b32o / b32u))
