import re, html, unicodedata, math, json
RE_BR=re.compile(r"(?i)<br\s*/?>"); RE_TAG=re.compile(r"</?[a-zA-Z][^>]*>")
RE_EMAIL=re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
RE_URL=re.compile(r'(?i)(?:https?://|www\.)[^\s<>"]+|\b[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.(?:com|net|org|info|biz|ly|be|co|uk|ac|tk|me|tv|us|io|de|ru|in)\b(?:/[^\s<>"]*)?')
RE_PUNCT=re.compile(r"[!?$£€.*]{2,}")
RE_W=re.compile(r"\w+")
def regdom(u):
    l=u.lower(); rest=l.split("://",1)[1] if "://" in l else l
    host=re.split(r"[/?#:]",rest)[0]
    if host.startswith("www."): host=host[4:]
    host=host.strip(".")
    labels=host.split(".")
    keep=3 if len(labels)>2 and len(labels[-2])<=3 and len(labels[-1])==2 else 2
    return ".".join(labels[-keep:])
def normalize(raw):
    t=RE_TAG.sub(" ",RE_BR.sub(" ",raw)); t=html.unescape(t)
    t=unicodedata.normalize("NFKC",t).replace("\ufeff"," ")
    ed=[m.group(1).lower() for m in RE_EMAIL.finditer(t)]
    if ed: t=RE_EMAIL.sub(" __email__ ",t)
    ld=[regdom(m.group(0)) for m in RE_URL.finditer(t)]
    if ld: t=RE_URL.sub(" __link__ ",t)
    return t,ld,ed
def features(row, word=(1,2), char=(3,5), signals=True, author=None):
    t,ld,ed=normalize(row["text"]); low=t.lower(); out=[]
    if word:
        ws=RE_W.findall(low)
        for n in range(word[0],word[1]+1):
            for i in range(len(ws)-n+1): out.append("w:"+" ".join(ws[i:i+n]))
    if char:
        for tok in low.split():
            p=" "+tok+" "
            for n in range(char[0],char[1]+1):
                for i in range(len(p)-n+1): out.append("c:"+p[i:i+n])
    if signals:
        out+=["s:dom:"+d for d in ld]+["s:edom:"+d for d in ed]
        caps=sum(1 for w in re.split(r"\W+",t) if len(w)>=2 and any(c.isalpha() for c in w) and not any(c.islower() for c in w))
        out+=["s:caps"]*caps
        for m in RE_PUNCT.finditer(t):
            for g in re.finditer(r"(.)\1+",m.group(0)): out.append("s:punct"+g.group(1))
        out+=["s:longnum"]*sum(1 for w in re.split(r"\W+",low) if len(w)>=5 and w.isdigit() and w.isascii())
        if not ld and not ed: out.append("s:nolink")
        out.append("s:len%d"%min(10,int(math.log2(len(t)+1))))
    if author:
        a=(row.get("author") or "").strip()
        if a:
            if "exact" in author: out.append("a:"+a.lower())
            if "words" in author: out+=["a:w:"+w for w in RE_W.findall(a.lower())]
            if "char" in author:
                for tok in a.lower().split():
                    p=" "+tok+" "
                    for n in range(3,6):
                        for i in range(len(p)-n+1): out.append("a:c:"+p[i:i+n])
    return out
def load(p): return [json.loads(l) for l in open(p)]
