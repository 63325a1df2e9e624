"""
Calibration folds grouped by video vs stratified folds: which threshold each picks and what it gives on test.
"""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np
from run import *
from sklearn.model_selection import GroupKFold
def mccbest(oof,y,max_fpr):
    # MCC-best threshold s.t. OOF FPR <= max_fpr
    best=(-1,None)
    for th in np.unique(oof):
        p=oof>=th
        if (p&(y==0)).sum()/(y==0).sum()>max_fpr: continue
        m=matthews_corrcoef(y,p.astype(int))
        if m>best[0]: best=(m,th)
    return best[1]
for split in ["youtube","youtube-xvideo"]:
    tr=load(f"{D}/{split}/train.jsonl"); te=load(f"{D}/{split}/test.jsonl")
    y=np.array([r["label"]=="spam" for r in tr],int); yt=np.array([r["label"]=="spam" for r in te],int)
    g=np.array([r["video"] for r in tr])
    cfg={}
    Xtr,Xte,_=build(tr,te,cfg)
    s=fitpred(Xtr,y,Xte,cfg)
    for name,splitter in [("strat",StratifiedKFold(5,shuffle=True,random_state=0).split(Xtr,y)),("group",GroupKFold(len(set(g))).split(Xtr,y,g))]:
        oof=np.zeros(len(y))
        for a,b in splitter: oof[b]=fitpred(Xtr[a],y[a],Xtr[b],cfg)
        for mf in [0.003,0.005,0.01]:
            t=mccbest(oof,y,mf)
            p=s>=t
            print(split,name,mf,"thr %.2f test mcc %.3f fpr %.4f"%(t,matthews_corrcoef(yt,p.astype(int)),(p&(yt==0)).sum()/(yt==0).sum()))
