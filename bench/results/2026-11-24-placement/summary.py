# Prints each round's figures of the placement runs in this folder (README.md here).
import json,glob,statistics as st,sys
import os
base=sys.argv[1] if len(sys.argv)>1 else os.path.dirname(os.path.abspath(__file__))
rows={}
for f in sorted(glob.glob(base+'/*-*/results.json')):
    tag=f.split('/')[-2]; mode,rnd=tag.rsplit('-',1)
    res=json.load(open(f))['results']
    jg={r['concurrency']:r['recordsPerSec'] for r in res if r['contender']=='js-group-commit'}
    for r in res:
        if r['contender']=='js-group-commit': continue
        cr=[c['recordsPerSec'] for c in (r.get('ceilingRuns') or []) if c]
        ceil=st.median(cr) if cr else None
        cl=[c['closedLoop']['recordsPerSec'] for c in (r.get('ceilingRuns') or []) if c and c.get('closedLoop')]
        c=r.get('ceiling') or {}
        bp=(c.get('byState') or {}).get('overwrite',{}).get('batchUsP50')
        key=(r['contender'],r['concurrency'])
        rows.setdefault(key,[]).append((mode,rnd,r['recordsPerSec'],r['latencyUsP50'],r['mainThreadCpuUsPerRecord'],ceil,bp,r['recordsPerSec']/ceil if ceil else None,r['recordsPerSec']/jg.get(r['concurrency'],float('nan')), (r['recordsPerSec']/st.median(cl)) if cl else None))
for k,v in rows.items():
    print(k)
    for m in ('free','c1','c0'):
        for x in v:
            if x[0]==m:
                print(f"  {m:4} r{x[1]} rec/s {x[2]:9.0f} p50 {x[3]:6.0f} cpu {x[4]:5.2f} ceil {x[5] or 0:9.0f} ceilp50 {x[6]} vsCeil {x[7] or 0:5.2f} vsJG {x[8]:5.2f} vsCL {f'{x[9]:5.2f}' if x[9] else '   -'}")
