# Fits the polynomial coefficients used by CKernels/black76_vec.c (near-minimax Chebyshev
# interpolation at high precision, then converted to the monomial basis and rounded to double).
import mpmath as mp
mp.mp.dps = 60

def cheb_interp(f, a, b, N):
    """Monomial coefficients (in u = (2t-a-b)/(b-a), u in [-1,1]) of the degree-N Chebyshev interpolant of f on [a,b]."""
    pts = [mp.cos(mp.pi*(j+mp.mpf(1)/2)/(N+1)) for j in range(N+1)]
    vals = [f((a+b)/2 + (b-a)/2*u) for u in pts]
    cs = []
    for n in range(N+1):
        s = mp.fsum(vals[j]*mp.cos(mp.pi*n*(j+mp.mpf(1)/2)/(N+1)) for j in range(N+1))
        cs.append(2*s/(N+1) if n else s/(N+1))
    # Chebyshev -> monomial
    T = [[mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]]
    for n in range(2, N+1):
        prev, prev2 = T[n-1], T[n-2]
        t = [mp.mpf(0)] + [2*c for c in prev]
        for i, c in enumerate(prev2):
            t[i] -= c
        T.append(t)
    mono = [mp.mpf(0)]*(N+1)
    for n in range(N+1):
        for i, c in enumerate(T[n]):
            mono[i] += cs[n]*c
    return mono, cs

def hexd(x):
    return float(x).hex()

import sys
what = sys.argv[1]
if what == 'cdf':
    k = mp.mpf(sys.argv[2]); XC = mp.mpf(sys.argv[3]); N = int(sys.argv[4])
    qmax = (XC-k)/(XC+k)
    c = (qmax - 1)/2; h = (qmax+1)/2
    def g(q):
        x = k*(1+q)/(1-q)
        # (k/2) G(x): Q(x) = (k/2) G(x) exp(-x^2/2) / (x + k)
        return k/2 * (1 + x/k) * mp.erfc(x/mp.sqrt(2)) * mp.exp(x*x/2)
    mono, cs = cheb_interp(g, mp.mpf(-1), qmax, N)
    # u = alpha*x + beta, all times r = 1/(x+k)
    alpha = (1-c)/h; beta = -k*(1+c)/h
    print('// k=%s XC=%s N=%d  last cheb %.2e' % (k, XC, N, float(abs(cs[-1]))))
    print('alpha', hexd(alpha), float(alpha)); print('beta', hexd(beta), float(beta))
    print('sum|a|', float(sum(abs(m) for m in mono)))
    for i in reversed(range(N+1)):
        print('    %s, // u^%d' % (hexd(mono[i]), i))
elif what == 'exp':
    N = int(sys.argv[2])
    a = mp.log(2)/2
    def hfun(t):
        # (exp(r) - 1 - r)/r^2, r = t
        if abs(t) < mp.mpf('1e-20'): return mp.mpf(1)/2
        return (mp.exp(t) - 1 - t)/t**2
    mono, cs = cheb_interp(hfun, -a, a, N)
    # convert from u = r/a to r
    print('// exp: h(r) deg %d, last cheb %.2e' % (N, float(abs(cs[-1]))))
    for i in reversed(range(N+1)):
        print('    %s, // r^%d' % (hexd(mono[i]/a**i), i))
elif what == 'log':
    N = int(sys.argv[2])
    zmax = ((mp.sqrt(2)-1)/(mp.sqrt(2)+1))**2
    def R(z):
        # (2 atanh(s) - 2 s)/s / z  with z = s^2
        if z < mp.mpf('1e-30'): return mp.mpf(2)/3
        s = mp.sqrt(z)
        return (2*mp.atanh(s) - 2*s)/s/z
    mono, cs = cheb_interp(R, mp.mpf(0), zmax, N)
    print('// log: R(z)/z deg %d, last cheb %.2e' % (N, float(abs(cs[-1]))))
    # u = (2z - zmax)/zmax -> monomial in z
    # p(u) with u = 2z/zmax - 1: expand
    coeffs = [mp.mpf(0)]*(N+1)
    for i, m in enumerate(mono):
        # (2z/zmax - 1)^i
        for j in range(i+1):
            coeffs[j] += m*mp.binomial(i, j)*(2/zmax)**j*(-1)**(i-j)
    for i in reversed(range(N+1)):
        print('    %s, // z^%d' % (hexd(coeffs[i]), i))
