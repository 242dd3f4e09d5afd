/* One compiled pass for a forget by reweighting: the work of
 *
 *     weights.summarize_log_weights(weights.erased_log_weights(log_weights, rows[columns].T))
 *
 * (log w_s − Σ_{i∈D_e} log p(z_i|θ_s), then max-shift, Kish ESS, Pareto k̂ and normalisation), for
 * `rows`, the candidate set's float32 log-likelihoods with one training row per C-contiguous row.
 * Those numpy functions stay the reference (a test pins this file to them): here the same steps run
 * without numpy's per-call overhead, which is most of a request's cost at S = 4000 samples.
 *
 *   erase_and_summarize(rows, columns, log_weights, out, n_tail) -> (ess, khat, spread) or None
 *
 * rows: float32 (N, S); columns: int64; log_weights and out: float64 (S,); n_tail: M of
 * psis.psis_tail_length(S). `out` receives the normalised log-weights. None: a non-finite value
 * appeared, and the caller takes the numpy path (whose NaN/inf semantics are the reference).
 *
 * The k̂ steps follow psis.khat_of_shifted and psis.gpd_fit_vector operation for operation
 * (products of eight profile factors, their overflow guard, ArviZ's priors); built without FMA
 * contraction, so the profile's rounding is numpy's. The S exponentials for ESS and normaliser use
 * a branch-free polynomial exp that compilers vectorise (glibc's exp, like numpy's float64 exp
 * without AVX-512, is scalar).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define WIDE __attribute__((target_clones("avx2", "default")))  /* chosen at load time */
#else
#define WIDE
#endif

#define PROFILE_GROUP 8
#define CUTOFF_MIN (-708.39641853226410622)  /* log of the smallest normal double, as psis.CUTOFF_MIN */

/* e^x for x <= 0: x = n ln2 + r with |r| <= ln2/2, e^r by its Taylor polynomial to degree 13
 * (truncation < 3e-17), 2^n through the exponent bits. Below e^-708 it returns 0: such terms change
 * a sum of weights whose largest term is 1 by < 1e-307. */
static inline double exp_nonpositive(double x) {
    const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    const double shift = 6755399441055744.0; /* 1.5 * 2^52: adding it rounds to an integer */
    double xc = x < -708.0 ? -708.0 : x;
    double kd = xc * 1.4426950408889634 + shift;
    uint64_t ki;
    memcpy(&ki, &kd, 8);
    kd -= shift;
    double r = (xc - kd * ln2_hi) - kd * ln2_lo;
    double p = 1.0 / 6227020800.0;
    p = p * r + 1.0 / 479001600.0;
    p = p * r + 1.0 / 39916800.0;
    p = p * r + 1.0 / 3628800.0;
    p = p * r + 1.0 / 362880.0;
    p = p * r + 1.0 / 40320.0;
    p = p * r + 1.0 / 5040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    uint64_t bits = (ki + 1023) << 52; /* the shift's own bits leave through the top */
    double scale;
    memcpy(&scale, &bits, 8);
    return x < -708.0 ? 0.0 : p * scale;
}

/* lw = log_weights − Σ_c rows[c], the sum first (numpy's order of rounding); returns 0 if a value
 * is not finite, else sets max and min. */
WIDE static int erase(const float *rows, int64_t S, const int64_t *columns, int64_t n_columns,
                      const double *log_weights, double *lw, double *max_out, double *min_out) {
    if (n_columns == 0) {
        memset(lw, 0, (size_t)S * sizeof(double));
    } else {
        const float *first = rows + columns[0] * S;
        for (int64_t s = 0; s < S; s++)
            lw[s] = (double)first[s];
    }
    for (int64_t c = 1; c < n_columns; c++) {
        const float *row = rows + columns[c] * S;
        for (int64_t s = 0; s < S; s++)
            lw[s] += (double)row[s];
    }
    for (int64_t s = 0; s < S; s++)
        lw[s] = log_weights[s] - lw[s];
    double mx = lw[0], mn = lw[0];
    int bad = 0;
    for (int64_t s = 0; s < S; s++) {
        double v = lw[s];
        bad |= !(v - v == 0.0); /* inf or NaN */
        mx = v > mx ? v : mx;
        mn = v < mn ? v : mn;
    }
    *max_out = mx;
    *min_out = mn;
    return !bad;
}

/* x = lw − max (into lw and a copy for the selection); Σ e^x and Σ e^{2x} (four partial sums). */
WIDE static void shift_and_sum(double *lw, double *copy, double *v, int64_t S, double mx,
                               double *total, double *sum_sq) {
    for (int64_t s = 0; s < S; s++) {
        double x = lw[s] - mx;
        lw[s] = x;
        copy[s] = x;
    }
    for (int64_t s = 0; s < S; s++)
        v[s] = exp_nonpositive(lw[s]);
    double t[4] = {0, 0, 0, 0}, q[4] = {0, 0, 0, 0};
    int64_t s = 0;
    for (; s + 4 <= S; s += 4)
        for (int l = 0; l < 4; l++) {
            t[l] += v[s + l];
            q[l] += v[s + l] * v[s + l];
        }
    for (; s < S; s++) {
        t[0] += v[s];
        q[0] += v[s] * v[s];
    }
    *total = (t[0] + t[1]) + (t[2] + t[3]);
    *sum_sq = (q[0] + q[1]) + (q[2] + q[3]);
}

static inline void swap(double *a, double *b) {
    double t = *a;
    *a = *b;
    *b = t;
}

/* One Hoare partition of v[lo..hi] around the median of three (which it moves into order):
 * afterwards v[lo..*j] <= pivot <= v[*i..hi], and values between *j and *i equal the pivot. */
static void partition(double *v, int64_t lo, int64_t hi, int64_t *i_out, int64_t *j_out) {
    int64_t mid = lo + (hi - lo) / 2;
    if (v[mid] < v[lo]) swap(&v[mid], &v[lo]);
    if (v[hi] < v[lo]) swap(&v[hi], &v[lo]);
    if (v[hi] < v[mid]) swap(&v[hi], &v[mid]);
    double pivot = v[mid];
    int64_t i = lo, j = hi;
    while (i <= j) {
        while (v[i] < pivot) i++;
        while (v[j] > pivot) j--;
        if (i <= j) {
            swap(&v[i], &v[j]);
            i++;
            j--;
        }
    }
    *i_out = i;
    *j_out = j;
}

/* Quickselect: afterwards v[kth] holds the value of rank kth and every value of v[kth + 1:] is
 * >= it. The values are finite. */
static void select_rank(double *v, int64_t n, int64_t kth) {
    int64_t lo = 0, hi = n - 1, i, j;
    while (hi > lo) {
        partition(v, lo, hi, &i, &j);
        if (kth <= j) hi = j;
        else if (kth >= i) lo = i;
        else return;
    }
}

/* Ascending sort: quicksort down to 16 values, then insertion sort. */
static void sort_ascending(double *v, int64_t n) {
    int64_t i, j;
    while (n > 16) {
        partition(v, 0, n - 1, &i, &j);
        if (j + 1 < n - i) { /* recurse into the smaller side */
            sort_ascending(v, j + 1);
            v += i;
            n -= i;
        } else {
            sort_ascending(v + i, n - i);
            n = j + 1;
        }
    }
    for (int64_t a = 1; a < n; a++) {
        double x = v[a];
        int64_t b = a - 1;
        while (b >= 0 && v[b] > x) {
            v[b + 1] = v[b];
            b--;
        }
        v[b + 1] = x;
    }
}

/* psis.gpd_fit_vector's k̂ for ascending exceedances x (n >= 5); grid of m <= 30 + sqrt(n) values. */
static double gpd_khat(const double *x, int64_t n) {
    int m = 30 + (int)sqrt((double)n);
    double *b = malloc(3 * (size_t)m * sizeof(double));
    if (b == NULL) return NAN;
    double *k = b + m, *len_scale = b + 2 * m;
    double x_quartile = x[(int64_t)(n / 4.0 + 0.5) - 1], x_max = x[n - 1];
    for (int i = 0; i < m; i++)
        b[i] = (1 - sqrt(m / ((i + 1) - 0.5))) / (3 * x_quartile) + 1 / x_max;
    int group = PROFILE_GROUP;
    if (group * log(1 - b[0] * x_max) > 690) group = 1; /* products of eight could overflow */
    int64_t width = (n + group - 1) / group;
    for (int i = 0; i < m; i++) {
        double acc = 0.0;
        for (int64_t w = 0; w < width; w++) { /* factors x[w], x[w + width], ...: numpy's grouping */
            double product = 1.0;
            for (int g = 0; g < group; g++) {
                int64_t j = g * width + w;
                product = g == 0 ? 1.0 - (j < n ? x[j] : 0.0) * b[i]
                                 : product * (1.0 - (j < n ? x[j] : 0.0) * b[i]);
            }
            acc += log(product);
        }
        k[i] = acc / n;
    }
    double top = -INFINITY;
    for (int i = 0; i < m; i++) {
        len_scale[i] = n * (log(b[i] / -k[i]) - k[i]);
        top = len_scale[i] > top ? len_scale[i] : top;
    }
    double total = 0.0, b_post = 0.0;
    for (int i = 0; i < m; i++) {
        double w = exp(len_scale[i] - top);
        total += w;
        b_post += b[i] * w;
    }
    b_post /= total;
    double k_post = 0.0;
    for (int64_t j = 0; j < n; j++)
        k_post += log1p(-b_post * x[j]);
    k_post /= n;
    free(b);
    return (n * k_post + 10 * 0.5) / (n + 10);
}

/* psis.khat_of_shifted on max-shifted log-ratios x (overwritten). */
static double khat_of_shifted(double *x, int64_t S, int64_t n_tail) {
    int64_t kth = S - n_tail - 1;
    if (kth < 0) return INFINITY;
    select_rank(x, S, kth);
    double *top = x + kth;
    int64_t n_top = n_tail + 1;
    sort_ascending(top, n_top);
    double cutoff = top[0] > CUTOFF_MIN ? top[0] : CUTOFF_MIN;
    int64_t first = 0;
    while (first < n_top && top[first] <= cutoff) first++; /* ties with the cutoff leave the tail */
    int64_t n = n_top - first;
    if (n <= 4) return INFINITY;
    double *tail = top + first, floor_value = exp(cutoff);
    for (int64_t j = 0; j < n; j++)
        tail[j] = exp(tail[j]) - floor_value;
    return gpd_khat(tail, n);
}

static PyObject *erase_and_summarize(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer rows, columns, log_weights, out;
    Py_ssize_t n_tail;
    if (!PyArg_ParseTuple(args, "y*y*y*w*n", &rows, &columns, &log_weights, &out, &n_tail))
        return NULL;
    PyObject *result = NULL;
    int64_t S = log_weights.len / (Py_ssize_t)sizeof(double);
    int64_t n_columns = columns.len / (Py_ssize_t)sizeof(int64_t);
    int64_t n_rows = S > 0 ? rows.len / (S * (Py_ssize_t)sizeof(float)) : 0;
    if (S < 1 || out.len != log_weights.len || rows.len != n_rows * S * (Py_ssize_t)sizeof(float)
        || n_tail < 0) {
        PyErr_SetString(PyExc_ValueError, "erase_and_summarize: inconsistent buffer sizes");
        goto done;
    }
    const int64_t *cols = columns.buf;
    for (int64_t c = 0; c < n_columns; c++)
        if (cols[c] < 0 || cols[c] >= n_rows) {
            PyErr_SetString(PyExc_IndexError, "erase_and_summarize: column out of range");
            goto done;
        }
    double *scratch = malloc(2 * (size_t)S * sizeof(double));
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double *lw = out.buf, mx, mn, total = 0, sum_sq = 0, khat = -INFINITY;
    int finite;
    Py_BEGIN_ALLOW_THREADS
    finite = erase(rows.buf, S, cols, n_columns, log_weights.buf, lw, &mx, &mn);
    if (finite) {
        shift_and_sum(lw, scratch, scratch + S, S, mx, &total, &sum_sq);
        if (mx - mn >= 1e-12) khat = khat_of_shifted(scratch, S, n_tail); /* uniform: −inf */
        double log_total = log(total);
        for (int64_t s = 0; s < S; s++)
            lw[s] -= log_total;
    }
    Py_END_ALLOW_THREADS
    free(scratch);
    if (!finite) {
        Py_INCREF(Py_None);
        result = Py_None;
    } else {
        result = Py_BuildValue("(ddd)", total * total / sum_sq, khat, mx - mn);
    }
done:
    PyBuffer_Release(&rows);
    PyBuffer_Release(&columns);
    PyBuffer_Release(&log_weights);
    PyBuffer_Release(&out);
    return result;
}

static PyMethodDef methods[] = {
    {"erase_and_summarize", erase_and_summarize, METH_VARARGS,
     "erase_and_summarize(rows, columns, log_weights, out, n_tail) -> (ess, khat, spread) or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_forget_kernel", NULL, -1, methods};

PyMODINIT_FUNC PyInit__forget_kernel(void) { return PyModule_Create(&module); }
