# PyTorch anchor for one DistilBERT-base training step (8 x 128, 2-class head on [CLS], AdamW), 2 threads.
# Run with Debian python3-torch and OpenBLAS on LD_LIBRARY_PATH (see ../shared/bench/setup.sh): the generic BLAS
# Debian links by default is ~40x slower.
import sys, time
sys.path.insert(0, "/work/shared/bench/torch")
import torch
from model import build
torch.set_num_threads(2)
print("threads", torch.get_num_threads(), flush=True)
enc = build("distilbert"); head = torch.nn.Linear(768, 2)
params = list(enc.parameters()) + list(head.parameters())
opt = torch.optim.AdamW(params, lr=5e-5, weight_decay=0.01)
ids = torch.randint(1000, 30000, (8, 128)); mask = torch.ones(8, 128, dtype=torch.long); labels = torch.randint(0, 2, (8,))
enc.train()
for i in range(4):
    t0 = time.perf_counter(); opt.zero_grad()
    h = enc(ids, mask); h = h[0] if isinstance(h, tuple) else h
    loss = torch.nn.functional.cross_entropy(head(h[:, 0]), labels)
    t1 = time.perf_counter(); loss.backward(); t2 = time.perf_counter(); opt.step(); t3 = time.perf_counter()
    print(f"step {i}: forward {t1-t0:.2f} s, backward {t2-t1:.2f} s, adamw {t3-t2:.2f} s, total {t3-t0:.2f} s", flush=True)
