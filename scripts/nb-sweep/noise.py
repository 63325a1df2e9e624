"""
Label-noise filtering: drop training rows whose out-of-fold score contradicts their label by more than a margin, refit, and compare the test ranking (ceiling MCC at <= 1% FPR, ROC AUC).
"""
import os, sys; sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import numpy as np, sys
from run import *
from sklearn.metrics import roc_auc_score
def ceiling(yt,s):
    return max(matthews_corrcoef(yt,(s>=th).astype(int)) for th in np.unique(s) if ((s>=th)&(yt==0)).sum()/(yt==0).sum()<=0.01)
for split in ["youtube","youtube-xvideo"]:
    tr=load(f"{D}/{split}/train.jsonl"); te=load(f"{D}/{split}/test.jsonl")
    y=np.array([r["label"]=="spam" for r in tr],int); yt=np.array([r["label"]=="spam" for r in te],int)
    cfg={}
    Xtr,Xte,_=build(tr,te,cfg)
    oof=np.zeros(len(y))
    for a,b in StratifiedKFold(5,shuffle=True,random_state=0).split(Xtr,y):
        oof[b]=fitpred(Xtr[a],y[a],Xtr[b],cfg)
    s=fitpred(Xtr,y,Xte,cfg)
    print(split,"base ceiling %.3f auc %.4f"%(ceiling(yt,s),roc_auc_score(yt,s)))
    for m in [8,5,3,2]:
        bad=((y==0)&(oof>m))|((y==1)&(oof<-m))
        keep=~bad
        s2=fitpred(Xtr[keep],y[keep],Xte,cfg)
        print("  drop |margin|>%d: %d rows, ceiling %.3f auc %.4f"%(m,bad.sum(),ceiling(yt,s2),roc_auc_score(yt,s2)))
