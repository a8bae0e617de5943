/* The sampling arithmetic: a per-thread generator, exponentially distributed distances between
 * sample points, and the weight of a sampled block. The library links no libm, so the two
 * functions needed, -ln(u) and 1 - exp(-x), are computed here from their series after the
 * usual range reductions; both are far more accurate than sampling needs (tests compare them
 * with libm). */
#include <string.h>

#include "prof/prof_internal.h"

#define LN2   0.69314718055994530942
#define SQRT2 1.41421356237309504880

static uint64_t bits_of(double x)
{
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

static double double_of(uint64_t bits)
{
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

double prof_neg_log(double u)
{
    /* u = m * 2^e with m in [sqrt(1/2), sqrt(2)); ln u = e ln 2 + 2 atanh((m - 1) / (m + 1)),
     * whose series in s = (m - 1) / (m + 1), |s| < 0.172, converges by a factor 34 a term. */
    if (!(u > 0.0)) return 745.0; /* never reached: u > 0; the largest -ln of a double */
    uint64_t bits = bits_of(u);
    int exponent = (int)((bits >> 52) & 0x7FF);
    if (exponent == 0) { /* subnormal: scale up first */
        u *= 0x1.0p54;
        bits = bits_of(u);
        exponent = (int)((bits >> 52) & 0x7FF) - 54;
    }
    exponent -= 1023;
    double m = double_of((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    if (m > SQRT2) {
        m *= 0.5;
        exponent++;
    }
    double s = (m - 1.0) / (m + 1.0);
    double s2 = s * s, term = s, sum = 0.0;
    for (int k = 1; k <= 27; k += 2) {
        sum += term / k;
        term *= s2;
    }
    return -((double)exponent * LN2 + 2.0 * sum);
}

double prof_one_minus_exp_neg(double x)
{
    if (x <= 0.0) return 0.0;
    if (x < 0.5) {
        /* x - x^2/2! + x^3/3! - ...: no cancellation, since the sum stays near x. */
        double term = x, sum = 0.0;
        for (int n = 1; n <= 24; n++) {
            sum += term;
            term *= -x / (n + 1);
        }
        return sum;
    }
    if (x > 40.0) return 1.0; /* exp(-40) < 2^-57: below the last bit of 1 */
    /* exp(-x) = 2^-k exp(-r) with r = x - k ln 2 in [-ln2/2, ln2/2]. */
    int k = (int)(x / LN2 + 0.5);
    double r = x - k * LN2;
    double term = 1.0, e = 0.0;
    for (int n = 1; n <= 20; n++) {
        e += term;
        term *= -r / n;
    }
    e *= double_of((uint64_t)(1023 - k) << 52);
    return 1.0 - e;
}

uint64_t prof_random_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

uint64_t prof_thread_seed(uint64_t seed, uint64_t n)
{
    uint64_t z = seed + (n + 1) * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return z ? z : 0x9E3779B97F4A7C15ull;
}

size_t prof_draw_interval(uint64_t *state, double mean_bytes)
{
    /* u uniform in (0, 1] with 53 random bits; the distance is ceil(mean * -ln u), so an
     * allocation of s bytes holds a sample point with probability exactly 1 - exp(-s/mean). */
    double u = (double)((prof_random_next(state) >> 11) + 1) * 0x1.0p-53;
    double d = mean_bytes * prof_neg_log(u);
    if (d >= 0x1.0p63) return (size_t)1 << 63;
    size_t n = (size_t)d;
    if ((double)n < d) n++;
    return n ? n : 1;
}

double prof_weight(size_t size, double mean_bytes)
{
    double p = prof_one_minus_exp_neg((double)size / mean_bytes);
    return p > 0.0 ? 1.0 / p : 0.0;
}
