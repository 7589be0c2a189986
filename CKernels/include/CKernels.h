// CKernels — the computation kernels of the Portfolio Margin engine: vectorized Black-76 (zero
// rate) pricing, the portfolio P&L gather, CSV line scanning, number formatting, hashing and UTF-8
// checking. Computation only: the operating-system and process-wide calls are in CPlatform
// (CPlatform/include/CPlatform.h).
//
// Every function is pure: it reads its input arrays and writes its output arrays, nothing else
// (the only state is a cache of the CPU check, the same value for every caller).
//
// Code paths (`isa` arguments): 0 = automatic (the widest this CPU runs: AVX-512, else AVX2+FMA,
// else scalar), 1 = scalar (plain libm, the reference), 2 = avx2, 3 = avx512. A path the CPU cannot
// run falls back to the widest one it can that is no wider; any other value means automatic. The
// functions without `_isa` run the automatic path.
// Inputs are assumed valid (F, K, T, sigma finite and > 0); the Swift side validates them first.
#ifndef PM_CKERNELS_H
#define PM_CKERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Standard normal CDF, erfc quality (relative error ~1e-15 over the whole line, including tails).
/// Exactly 0 below x = -40 and 1 above x = 40.
double pm_norm_cdf(double x);

/// Black-76 price, delta and vega of one option, plain scalar libm code (the reference).
/// price = call: F N(d1) - K N(d2); put: K N(-d2) - F N(-d1)
/// delta = call: N(d1); put: N(d1) - 1.      vega = F phi(d1) sqrt(T)   (per 1.00 of vol)
void pm_black76_greeks(double F, double K, double T, double sigma, int isCall,
                       double *price, double *delta, double *vega);

/// Batch of n Black-76 prices: out[i] = B76(F[i], K[i], T[i], sigma[i], isCall[i] != 0).
/// Vectorized: AVX-512 / AVX2+FMA variants chosen at run time, scalar fallback.
/// The vector paths agree with pm_black76_batch_ref to 1e-13 relative or 1e-13 * F absolute
/// (the formula's own cancellation, e.g. near the money seconds from expiry, limits relative
/// agreement). Prices below about 1e-307 * F come out as 0 (the reference may give subnormals).
void pm_black76_batch(size_t n, const double *F, const double *K, const double *T,
                      const double *sigma, const int8_t *isCall, double *out);
/// The same batch on the code path `isa` (see the top of this file).
void pm_black76_batch_isa(int isa, size_t n, const double *F, const double *K, const double *T,
                          const double *sigma, const int8_t *isCall, double *out);

/// The same batch, plain scalar libm (erfc/exp/log/sqrt): the reference the tests and bench compare to.
void pm_black76_batch_ref(size_t n, const double *F, const double *K, const double *T,
                          const double *sigma, const int8_t *isCall, double *out);

/// Risk arrays of nOptions options over an nMoves x 3 scenario grid (docs/model.md §3).
/// Row-major output, nS = nMoves * 3 columns:
///   out[i*nS + k*3 + j] = (B76(F[i]*(1 + moves[k]*moveScale[i]), K[i], T[i], vol_j[i], isCall[i])
///                          - mark[i]) * settleIndex[i]
/// with vol_0 = volUp[i], vol_1 = volMid[i], vol_2 = volDown[i] (j = 0 up, 1 unchanged, 2 down).
void pm_option_risk_arrays(size_t nOptions, size_t nMoves, const double *moves,
                           const double *F, const double *K, const double *T,
                           const double *volUp, const double *volMid, const double *volDown,
                           const double *moveScale, const int8_t *isCall,
                           const double *mark, const double *settleIndex, double *out);
/// The same risk arrays on the code path `isa` (1 = the scalar libm reference).
void pm_risk_arrays_isa(int isa, size_t nOptions, size_t nMoves, const double *moves,
                        const double *F, const double *K, const double *T,
                        const double *volUp, const double *volMid, const double *volDown,
                        const double *moveScale, const int8_t *isCall,
                        const double *mark, const double *settleIndex, double *out);

/// The scenario P&L of a portfolio (docs/model.md §3): for s < nS,
///   out[s] = Σ_e size[e] · block[row[instr[e]] · nS + s],  e = 0 … count−1 (in that order).
/// `block` is a coin's risk arrays (row-major, nS per instrument), `row` maps an instrument index
/// to its row. Uses the same code path as the pricing functions.
void pm_gather_pnl(double *out, size_t nS, const double *block, const int32_t *row,
                   const int32_t *instr, const double *size, size_t count);
/// The same gather on the code path `isa` (every path gives the same bits).
void pm_gather_pnl_isa(int isa, double *out, size_t nS, const double *block, const int32_t *row,
                       const int32_t *instr, const double *size, size_t count);

/// What one backtest pass found over a breach sequence of S scenarios (docs/model.md §13).
typedef struct {
    /// Breaches (unit pass: loss > mm; account pass: loss > totalMM) and the transition counts
    /// n_ij of the sequence (state i on scenario q−1, j on q).
    int64_t breaches, n00, n01, n10, n11;
    /// Account pass: breaches of totalIM (0 in the unit pass).
    int64_t breachesIM;
    /// The largest loss (−inf when none is larger) and its first scenario (0 then).
    double worst;
    int64_t worstAt;
    /// Unit pass: 1 when every loss is finite (and S > 0); account pass: 1.
    int32_t finite;
} pm_backtest_stats;

/// One unit of the backtest: for q < nS, u = pnl[q], plus (when hedge ≠ 0) the spot leg
/// v = hedge · move[q], taken as max(0, v) when hedge < 0 (v when v ≥ 0, else 0); the loss −u is
/// compared with mm (a breach is strictly above), its first maximum and finiteness taken, and it
/// is added to accountLoss[q]. `move` may be NULL when hedge = 0. `finite` is 1 when every loss
/// is finite and nS > 0. Every path gives the same bits and counts.
void pm_backtest_unit_isa(int isa, size_t nS, const double *pnl, const double *move, double hedge, double mm,
                          double *accountLoss, pm_backtest_stats *st);

/// One account of the backtest over its scenario losses `loss[0..<nS]`. Returns 0, touching
/// nothing, when some |loss| is not ≤ maxLoss (NaN included). Else returns 1 and, for each
/// scenario q: a breach loss > totalMM adds 1 to breachedMM[q] and the shortfall loss − totalMM
/// in quanta to scenario q's shortfall sum; loss > totalIM adds 1 to breachedIM[q]; the loss in
/// quanta goes to scenario q's loss sum. A quantity in quanta is x · 2^32 rounded to nearest,
/// ties to even; a sum is fast[q] (64-bit) + wide[q] (128-bit two's complement, two words, low
/// first): terms with |term| < 2^51 go to fast (each then ≤ 2^51), larger ones to wide. The
/// caller moves fast into wide before 4096 accounts have been added (4095 · 2^51 < 2^63). `st`
/// gets the MM breach sequence, the IM breaches and the first worst loss.
int pm_backtest_account_isa(int isa, size_t nS, const double *loss, double totalMM, double totalIM, double maxLoss,
                            int64_t *breachedMM, int64_t *breachedIM, int64_t *fastLoss, uint64_t *wideLoss,
                            int64_t *fastShortfall, uint64_t *wideShortfall, pm_backtest_stats *st);

/// A block of accounts for pm_backtest_block_isa: the scenario P&L table (`table[row[i] · scenarios
/// + q]` for instrument i), the spot moves per scenario coin (`move[c · scenarios + q]`) and, per
/// unit u of account a (`accountUnits[a] ..< accountUnits[a + 1]`), its entries `unitEntry[u] ..<
/// unitEntry[u] + unitEntries[u]` of (instr, size), its coin, hedge and mm. Accounts with
/// `active[a] = 0` are skipped (their stats are not written).
typedef struct {
    size_t scenarios;
    const double *table;
    const int32_t *row;
    const int32_t *instr;
    const double *size;
    const double *move;
    size_t accounts;
    const int64_t *accountUnits;
    const int64_t *unitEntry, *unitEntries, *unitCoin;
    const double *unitHedge, *unitMM;
    const uint8_t *active;
    const double *totalMM, *totalIM;
    double maxLoss;
    /// Accounts added into the 64-bit sums before they are moved into the 128-bit ones: 0 (or
    /// more than 4095) means 4095, the most that cannot overflow; smaller values only test the move.
    size_t flushEvery;
    /// The same table laid out tile by tile (pm_backtest_tile_table, `tableRows` rows), or NULL
    /// (then `table` is read in place). Either gives the same bits.
    const double *tiles;
    size_t tableRows;
} pm_backtest_block;

/// The scenarios of one tile of the block pass (pm_backtest_block_isa).
#define PM_BACKTEST_TILE 40

/// The number of doubles of the tiled table of `rows` rows of `scenarios` each:
/// ceil(scenarios / PM_BACKTEST_TILE) · rows · PM_BACKTEST_TILE.
size_t pm_backtest_tiles_count(size_t rows, size_t scenarios);

/// Lays `table` (`table[r · scenarios + q]`) out tile by tile for pm_backtest_block_isa: tile t
/// (scenarios 40t … 40t + 39) of row r at `tiles[(t · rows + r) · 40 + k]`, k < 40, the lanes past
/// the last scenario 0. A tile of every row is then one contiguous stretch (rows · 320 bytes, a
/// few pages) instead of one stretch per row a whole row apart: fewer cache sets and TLB entries.
void pm_backtest_tile_table(const double *table, size_t rows, size_t scenarios, double *tiles);

/// The backtest of a block: for every active account, each unit's P&L per scenario (the gather of
/// pm_gather_pnl, in entry order) through pm_backtest_unit_isa's pass, their sum through
/// pm_backtest_account_isa's pass, into `unitStats`, `accountStats` and the per-scenario
/// breachedMM, breachedIM and 128-bit sums wideLoss, wideShortfall (added to; two words per
/// scenario). Run scenario tile by tile, every account through each tile. Returns the number of
/// active accounts that failed (`failed[a] = 1`: a unit loss not finite, or an account loss out
/// of range); the per-scenario results then include some of their scenarios, and the caller runs
/// the block again with them inactive (an account's figures do not depend on the others).
size_t pm_backtest_block_isa(int isa, const pm_backtest_block *block, pm_backtest_stats *unitStats,
                             pm_backtest_stats *accountStats, uint8_t *failed, int64_t *breachedMM, int64_t *breachedIM,
                             uint64_t *wideLoss, uint64_t *wideShortfall);

/// Splits one CSV line for the batch reader. Scans `p` up to the first line end, '\n' or '\r'
/// (or `avail` bytes), writes the offsets of up to `cap` commas into `commas`, and returns the
/// number of commas (which may exceed `cap`). `*lineLength` receives the offset of the line end (or
/// `avail`), `*flags` bit 0 (PM_CSV_QUOTE) if a '"' occurs before it (the caller then parses that
/// record with quoting rules: it may continue past this line end), bit 1 (PM_CSV_NON_ASCII) if a
/// byte ≥ 0x80 does (only such a line can hold invalid UTF-8: the caller validates its fields
/// instead of the whole file up front).
#define PM_CSV_QUOTE 1
#define PM_CSV_NON_ASCII 2
size_t pm_csv_line(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap,
                   size_t *lineLength, int *flags);
/// `pm_csv_line` without the AVX2 path (SSE2 16 bytes a step, then bytes), which it otherwise
/// takes on a CPU with AVX2: for tests, which check both give the same answers.
size_t pm_csv_line_baseline(const uint8_t *p, size_t avail, uint32_t *commas, size_t cap,
                            size_t *lineLength, int *flags);

/// Splits many CSV lines at once for the batch reader (the whole-buffer scan). Writes, in order,
/// the offset from `p` of every ',' and every line end of the whole lines at the start of
/// `p[0..<avail]`, a line end with bit 31 set (PM_CSV_SEP_END); "\r\n" is one line end, at its
/// '\r'. Scans 64-byte blocks only and stops before the first line that has a '"' or a byte
/// ≥ 0x80, a line that does not end in the blocks scanned, and when fewer than 64 entries of
/// `cap` are left: the caller reads such a line with `pm_csv_line`. Returns the number of entries
/// written up to the last line end (0: the first line is the caller's). `avail` is clamped to
/// 2^31 − 1.
#define PM_CSV_SEP_END 0x80000000u
size_t pm_csv_scan(const uint8_t *p, size_t avail, uint32_t *seps, size_t cap);
/// `pm_csv_scan` with masks built byte by byte (no vector path): for tests, which check both
/// give the same answers.
size_t pm_csv_scan_plain(const uint8_t *p, size_t avail, uint32_t *seps, size_t cap);

/// The number of lines in `p[0..<n]`: its line ends ('\n', '\r' not followed by '\n'; CRLF is
/// one), plus one for a last line without one.
size_t pm_count_lines(const uint8_t *p, size_t n);

/// The offset of the first record start at or after `target`, scanning from `from` (a record
/// start) with RFC 4180 quoting (a line break inside a quoted field does not end the record);
/// `n` when there is none.
size_t pm_csv_next_record(const uint8_t *p, size_t n, size_t from, size_t target);

/// A hint to bring the cache line of `p` in (the batch reader's id table: the slot of a key a few
/// lines ahead is fetched while this one is inserted).
void pm_prefetch(const void *p);

/// The input digest's hash: XXH64 (xxHash64, seed as given; the digest uses seed 0), streamed.
/// `pm_xxh64_stripes` consumes the whole 32-byte stripes of `p[0..<n]` and returns how many bytes
/// it consumed; `pm_xxh64_finish` takes the remaining < 32 bytes and returns the hash.
/// `bytesOr` is the OR of every byte hashed (bit 7 clear: the input was ASCII).
typedef struct { uint64_t lane[4]; uint64_t seed; uint64_t consumed; uint64_t bytesOr; } pm_xxh64_state;
void pm_xxh64_init(pm_xxh64_state *s, uint64_t seed);
size_t pm_xxh64_stripes(pm_xxh64_state *s, const uint8_t *p, size_t n);
uint64_t pm_xxh64_finish(pm_xxh64_state *s, const uint8_t *p, size_t n);
/// XXH64 of `p[0..<n]` in one call.
uint64_t pm_xxh64(const uint8_t *p, size_t n, uint64_t seed);

/// 1 when `p[0..<n]` is valid UTF-8 (RFC 3629: no overlong forms, surrogates or values above
/// U+10FFFF), else 0.
int pm_utf8_valid(const uint8_t *p, size_t n);

/// Name of the code path the automatic functions use on this CPU: "avx512", "avx2" or "scalar".
const char *pm_kernel_isa(void);

/// Name of the code path a request `isa` runs on this CPU (after the fallback described at the top).
const char *pm_kernel_isa_name(int isa);

/// Shortest round-trip text of `value` (Dragonbox's digits, Swift's `Double.description` layout: "0.1",
/// "100.0", "1e-05", "1.2345678901234568e+17", "5e-324", "-0.0", "inf", "nan"), written to `out`
/// without a terminating NUL; returns its length (at most 24 bytes). `out` must have room for
/// PM_FORMAT_DOUBLE_ROOM bytes: digits are copied in fixed-size blocks past the text's end.
#define PM_FORMAT_DOUBLE_ROOM 48
size_t pm_format_double(double value, char *out);
#ifdef __cplusplus
}
#endif
#endif
