# H(a) = (a + c) Q(a) exp(a^2/2) in u = (alpha a - 6)/(a + 6) on a in [0, XC]; Chebyshev interpolation,
# then the constant term re-derived after rounding so that the polynomial is exact (to rounding)
# at u = -1 (a = 0, H = c/2), where the ATM prices need it most.
import mpmath as mp, sys
mp.mp.dps = 50
exec(open('fit.py').read().split("import sys\nwhat")[0])
k = mp.mpf(6); c = mp.mpf(sys.argv[1]); XC = mp.mpf(sys.argv[2]); N = int(sys.argv[3])
qmax = (XC-k)/(XC+k); cc = (qmax-1)/2; h = (qmax+1)/2
def H(q):
    a = k*(1+q)/(1-q)
    return (a + c) * mp.erfc(a/mp.sqrt(2))/2 * mp.exp(a*a/2)
mono, cs = cheb_interp(H, mp.mpf(-1), qmax, N)
md = [mp.mpf(float(m)) for m in mono]
# fix c0: p(-1) = c/2
s = sum(md[i]*(-1)**i for i in range(1, N+1))
md[0] = mp.mpf(float(c/2 - s))
alpha = (1-cc)/h
print('// alpha+1 =', hexd(alpha + 1), 'alpha =', hexd(alpha))
worst = 0; worst0 = 0
for i in range(4001):
    u = -1 + mp.mpf(2)*i/4000
    q = cc + h*u
    e = abs(mp.polyval(md[::-1], u)/H(q) - 1)
    worst = max(worst, e)
    if i < 200: worst0 = max(worst0, e)
print('// max rel fit err %.2e, near a = 0: %.2e' % (float(worst), float(worst0)))
for i in reversed(range(N+1)):
    print(hexd(md[i]))
