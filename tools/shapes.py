"""Generate load traces of shapes the public traces lack, for checking that prescale's
default policy generalises: business hours with idle nights and weekends (with a ramp and as
a 0-to-full step at 09:00), commuter double peaks, a regular weekly pattern, random batch
bursts, and a nightly batch over daytime load. Deterministic (fixed seed), Poisson counts.

    python3 tools/shapes.py OUT_DIR
    cargo run --release -- simulate --all-traces OUT_DIR
"""
import math, os, random, sys
random.seed(42)
OUT = sys.argv[1] if len(sys.argv) > 1 else "shapes"
os.makedirs(OUT, exist_ok=True)
def pois(l):
    if l <= 0: return 0
    if l < 30:
        L=math.exp(-l); k=0; p=1.0
        while True:
            p*=random.random()
            if p<L: return k
            k+=1
    return max(0,int(round(random.gauss(l, math.sqrt(l)))))
def write(name, step, days, rate):
    n=int(days*86400/step)
    with open(os.path.join(OUT, name+'.csv'),'w') as f:
        f.write('timestamp_s,value\n')
        for i in range(n):
            t=i*step
            f.write(f'{t},{pois(rate(t)*step)}\n')
def dow(t): return int(t//86400)%7
def hod(t): return (t%86400)/3600
# 1 business hours on/off: 9-17 weekdays, idle nights/weekends
def biz(t):
    d=dow(t); h=hod(t)
    if d>=5: return 0.0
    if h<8.75 or h>=17.25: return 0.0
    ramp=min(1,(h-8.75)/0.25, (17.25-h)/0.25)
    return 2.0*ramp*(1+0.2*math.sin(h))
write('business_hours',60,28,biz)
# 2 commuter double peak
def commuter(t):
    d=dow(t); h=hod(t)
    base=0.2+0.8*math.exp(-((h-8.5)/0.7)**2)+0.9*math.exp(-((h-17.75)/0.8)**2)+0.3*math.exp(-((h-13)/2)**2)
    return 3.0*base*(0.5 if d>=5 else 1.0)
write('commuter',60,28,commuter)
# 3 very regular weekly
def weekly(t):
    d=dow(t); h=hod(t)
    daily=0.5+0.5*math.sin((h-9)/24*2*math.pi)
    return 2.0*(1+daily)*(0.6 if d>=5 else 1.0)*(1+0.3*math.sin(d/7*2*math.pi))
write('weekly_regular',300,35,weekly)
# 4 bursty batch: low background, random batches
bursts=[]
t=0
while t<21*86400:
    t+=random.expovariate(1/(3*3600))
    bursts.append((t, random.uniform(300,1200), random.uniform(5,30)))
def batch(t):
    r=0.3
    for s,dur,rate in bursts:
        if s<=t<s+dur: r+=rate
    return r
write('bursty_batch',60,21,batch)
# 5 nightly scheduled batch + daytime load
def nightly(t):
    h=hod(t)
    r=1.0+1.0*math.exp(-((h-14)/3)**2)
    if 2.0<=h<2.5: r+=20
    return r
write('nightly_batch',60,21,nightly)
def bizstep(t):
    d=dow(t); h=hod(t)
    if d>=5 or h<9 or h>=17: return 0.0
    return 3.0
write('business_step',60,28,bizstep)
