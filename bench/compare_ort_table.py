#!/usr/bin/python3
"""Markdown table and within-round ratios from a bench/compare_ort.py output directory. Usage: compare_ort_table.py OUT_DIR"""
import json,sys,statistics as st
d=sys.argv[1]
def load(f):
    try: return json.load(open(f))
    except Exception: return None
fr={}
for line in open(d+'/foreign.txt'):
    t,q,f=line.split(); fr[t]=float(f)
rows=[]
ratios={'1x128':[], '32x128':[]}; mratios={'1x128':[], '32x128':[]}; bert={'1x128':[], '32x128':[]}
cells={}
for r in (1,2,3):
    o=load(f'{d}/ort-{r}.json')
    ort={}
    if o:
        for s in o['scenarios']: ort[f"{s['batch']}x{s['seq']}"]=(s['median_s']*1e3, s['min_s']*1e3, s['foreign_cpus'], o['vmhwm_kb']/1024)
    for sc in ('1x128','32x128'):
        h=load(f'{d}/ours-{sc}-{r}.json'); m=load(f'{d}/model-{sc}-{r}.json'); b=load(f'{d}/bert-{sc}-{r}.json')
        if sc in ort:
            cells.setdefault(('ort',sc),[]).append(ort[sc])
        for tag,u in (('harness',h),('model',m),('bert',b)):
            if u: cells.setdefault((tag,sc),[]).append((u['median_ms'],u['best_ms'],fr.get(f"{'ours' if tag=='harness' else tag}-{sc}-{r}",float('nan')),u['peak_rss_mib']))
        if sc in ort and h: ratios[sc].append(h['median_ms']/ort[sc][0])
        if sc in ort and m: mratios[sc].append(m['median_ms']/ort[sc][0])
        if h and b: bert[sc].append(b['median_ms']/h['median_ms'])
print("| engine | scenario | per-round medians (ms) | median (ms) | best (ms) | foreign CPUs | peak RSS (MiB) |")
print("|---|---|---|---:|---:|---:|---:|")
names={'ort':'ONNX Runtime 1.31.1 (shared/bench ORT harness)','harness':'DistilBert.NET, `--engine harness`','model':'DistilBert.NET, `--engine model` (DistilBertModel as on main)','bert':'DistilBert.NET harness, **BERT-base**'}
for tag in ('ort','harness','model','bert'):
    for sc in ('1x128','32x128'):
        c=cells.get((tag,sc))
        if not c: continue
        print(f"| {names[tag]} | {sc.replace('x',' × ')} | {' / '.join(f'{x[0]:.0f}' for x in c)} | {st.median(x[0] for x in c):.0f} | {min(x[1] for x in c):.0f} | {st.median(x[2] for x in c):.2f} | {st.median(x[3] for x in c):.0f} |")
print()
for sc in ('1x128','32x128'):
    if ratios[sc]: print(f"- {sc}: harness / ORT time per round {', '.join(f'{x:.2f}' for x in ratios[sc])} → median **{st.median(ratios[sc]):.2f}**; model / ORT {', '.join(f'{x:.2f}' for x in mratios[sc])} → median **{st.median(mratios[sc]) if mratios[sc] else float('nan'):.2f}**; BERT / DistilBERT (harness) {', '.join(f'{x:.2f}' for x in bert[sc])}")
