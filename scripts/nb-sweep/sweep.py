import sys, json; import os; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import evaluate
for line in sys.stdin:
    line=line.strip()
    if not line or line.startswith("#"): continue
    cfg=json.loads(line); out=[]
    for split in ["youtube","youtube-xvideo","sms"]:
        m,f,b,o=evaluate(split,cfg); out.append(f"{o:.3f}/{m:.3f}/{f*100:.1f}/{b:.3f}")
    print("  ".join(out), line, flush=True)
