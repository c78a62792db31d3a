# Experiment (issue 21): train-only choice of the CLINC150 out-of-scope threshold. Needs /tmp/clinc/emb.npz (MiniLM embeddings of every split).
import json, numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
d = json.load(open('/work/shared/data/text/clinc150/data_full.json'))
E = np.load('/tmp/clinc/emb.npz')
ytr = np.array([x[1] for x in d['train']]); yte = np.array([x[1] for x in d['test']])
Xtr, Xte, Xoos = E['train'], E['test'], E['oos_test']
def fit(X, y):
    return LogisticRegression(C=10, max_iter=300).fit(X, y)
def maha_fit(X, y):
    labels = np.unique(y); mu = np.stack([X[y == l].mean(0) for l in labels])
    R = X - mu[np.searchsorted(labels, y)]
    cov = R.T @ R / len(X) + 1e-3 * np.eye(X.shape[1])
    return labels, mu, np.linalg.inv(cov)
def maha_score(m, X):
    labels, mu, P = m
    D = np.stack([np.einsum('ij,jk,ik->i', X - c, P, X - c) for c in mu], 1)
    return -D.min(1)  # higher = more in-scope
# out-of-fold in-scope scores on train
skf = StratifiedKFold(5, shuffle=True, random_state=0)
oof_msp = np.zeros(len(ytr)); oof_m = np.zeros(len(ytr))
for tr, va in skf.split(Xtr, ytr):
    clf = fit(Xtr[tr], ytr[tr]); oof_msp[va] = clf.predict_proba(Xtr[va]).max(1)
    oof_m[va] = maha_score(maha_fit(Xtr[tr], ytr[tr]), Xtr[va])
clf = fit(Xtr, ytr); m = maha_fit(Xtr, ytr)
pred = clf.predict(Xte); ok = pred == yte
te_msp, oos_msp = clf.predict_proba(Xte).max(1), clf.predict_proba(Xoos).max(1)
te_m, oos_m = maha_score(m, Xte), maha_score(m, Xoos)
from sklearn.metrics import roc_auc_score
print('acc no thr', ok.mean())
for name, oof, te, oo in (('msp', oof_msp, te_msp, oos_msp), ('maha', oof_m, te_m, oos_m)):
    print(name, 'AUROC', roc_auc_score(np.r_[np.ones(len(te)), np.zeros(len(oo))], np.r_[te, oo]))
    for keep in (0.99, 0.98, 0.97, 0.96, 0.95, 0.93, 0.90):
        t = np.quantile(oof, 1 - keep)
        print(f'  keep {keep}: thr {t:.4f} in-scope acc {np.mean(ok & (te >= t)):.4f} oos recall {np.mean(oo < t):.4f}')
