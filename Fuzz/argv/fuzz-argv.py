#!/usr/bin/env python3
"""Argument fuzzing of every `pm` command: the real binary, hostile argument vectors.

    Fuzz/argv/fuzz-argv.py PM_BINARY [--runs N] [--seconds S] [--seed K] [--keep DIR]

Each execution starts from a valid invocation of one command (on the small fixtures in
Fuzz/fixtures and data/examples), then applies one to three mutations: an option's value replaced
by a hostile one (non-finite, huge, tiny, negative, empty, separators, control characters, long
text), an option repeated, dropped or unknown, a path replaced by an odd place (missing, a folder
where a file belongs, a file where a folder belongs, an empty file, a one-letter relative folder,
a trailing slash, a device). Invariants, for every execution:

  1. the process exits by itself with status 0, 1 or 3 — no signal (trap, abort, sanitizer), no
     other status, within the time limit;
  2. nothing on stderr looks like a crash (Fatal error, sanitizer report, stack dump);
  3. status 1: stderr holds exactly one line (the error), and a fresh --out was not filled: it is
     absent or an empty folder, and no hidden staging folder is left beside it;
  4. status 0 or 3 with --out: the command's output files are all there;
  5. one in eight executions with status 0 or 3 runs again into a second fresh folder: every output
     file but manifest.json (it records a finishing time) and stdout are the same bytes;
  6. no input file changes (the inputs are this run's copies of Fuzz/fixtures and data/).

A broken invariant prints the argument vector (shell-quoted) and the reason, keeps it in --keep
DIR (default .build-fuzz/findings/argv), and the script exits 1. The seed makes a run repeatable.
"""
import argparse
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# The inputs are copies in a folder of this run (made by main): a command given an input's path as
# an output (`--plot`, `--out`) must never reach the repository's own files. After every execution
# the copies are checked unchanged (invariant 6).
INPUTS = None
FIX = EX = SMALL_MARKET = SAMPLE_MARKET = PARAMS = BATCH = ACCOUNT = BYBIT = HISTORY = None


def set_inputs(folder):
    global INPUTS, FIX, EX, SMALL_MARKET, SAMPLE_MARKET, PARAMS, BATCH, ACCOUNT, BYBIT, HISTORY
    INPUTS = folder
    shutil.copytree(os.path.join(ROOT, "Fuzz", "fixtures"), os.path.join(folder, "fixtures"))
    shutil.copytree(os.path.join(ROOT, "data", "examples"), os.path.join(folder, "examples"))
    shutil.copy(os.path.join(ROOT, "data", "sample", "market.json"), os.path.join(folder, "sample-market.json"))
    shutil.copy(os.path.join(ROOT, "data", "params", "pm-params.json"), os.path.join(folder, "pm-params.json"))
    FIX = os.path.join(folder, "fixtures")
    EX = os.path.join(folder, "examples")
    SMALL_MARKET = os.path.join(FIX, "market-small.json")
    SAMPLE_MARKET = os.path.join(folder, "sample-market.json")
    PARAMS = os.path.join(folder, "pm-params.json")
    BATCH = os.path.join(FIX, "batch")
    ACCOUNT = os.path.join(EX, "short-strangle.json")
    BYBIT = os.path.join(EX, "bybit")
    shutil.copytree(os.path.join(ROOT, "data", "history"), os.path.join(folder, "history"))
    HISTORY = os.path.join(folder, "history")


def snapshot(folder):
    """Every file below folder with its bytes."""
    files = {}
    for dirpath, _, names in os.walk(folder):
        for n in names:
            with open(os.path.join(dirpath, n), "rb") as f:
                files[os.path.join(dirpath, n)] = f.read()
    return files

HOSTILE_NUMBERS = ["0", "-0", "-1", "1", "2", "0.5", "1e308", "-1e308", "1e400", "5e-324", "1e-300",
                   "nan", "NaN", "inf", "-inf", "Infinity", "0x10", "1_000", "1,2", "", " ", "+", "-",
                   "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e19", "3.",
                   ".5", "1e", "٣", "1\n2", "10000000", "257", "256", "1000000", "1000001"]
HOSTILE_TEXT = ["", " ", ",", ",,", "=", ":", "@", "/", "\\", "\t", "\n", "\x01", "é", "A&B<C>",
                "\"quoted\"", "x" * 5000, "BTC", "btc", "BTC.", ".priceRange", "*", "-", "--"]
SETTINGS = ["priceRange", "pricePoints", "ivUp", "ivDown", "imFactor", "minDTE", "decaySeconds",
            "collateralValueRatio", "spotHedgeEligible", "basisThreshold", "nosuch"]
COINS = ["BTC", "ETH", "SOL", "default", "XRP", "", "USDT"]
SYMBOLS = ["BTCUSDT", "BTCUSD", "ETHUSDC-26MAR27", "BTC-25DEC26-105000-C-USDC", "BTC-30APR27-123000-C-USDC",
           "BTC-25DEC26-1-P-USDC", "NOPE", "", "BTC-25DEC26-105000-X-USDC", "BTC-99XYZ26-1-C-USDC"]


def pick_list(rng, values, n=None):
    n = n if n is not None else rng.randint(1, 4)
    return ",".join(rng.choice(values) for _ in range(n))


def grammar_value(rng, kind):
    """A value for an option of this kind: usually plausible, sometimes hostile."""
    r = rng.random()
    if kind == "number":
        return rng.choice(HOSTILE_NUMBERS)
    if kind == "count":  # sizes of work: hostile, but never a valid count that runs for minutes
        return rng.choice(["0", "-1", "1", "3", "30", "", "nan", "1e3", "9223372036854775808", "100000001",
                           "-9223372036854775809", "0x10", " 5", "5 "])
    if kind == "shard":
        return rng.choice(["0/1", "0/2", "1/2", "2/2", "-1/2", "0/0", "1/1000000", "0/1000001", "a/b",
                           "0/", "/2", "0/2/3", "0.5/2", " 0/2", "0/2 "])
    if kind == "set":
        if r < 0.7:
            return f"{rng.choice(COINS)}.{rng.choice(SETTINGS)}={pick_list(rng, HOSTILE_NUMBERS)}"
        return rng.choice(HOSTILE_TEXT)
    if kind == "shock":
        if r < 0.7:
            return f"{rng.choice(COINS)}={pick_list(rng, HOSTILE_NUMBERS)}"
        return rng.choice(HOSTILE_TEXT)
    if kind == "list":
        return pick_list(rng, HOSTILE_NUMBERS) if r < 0.8 else rng.choice(HOSTILE_TEXT)
    if kind == "add":
        if r < 0.75:
            s = f"{rng.choice(SYMBOLS)}:{rng.choice(HOSTILE_NUMBERS)}"
            if rng.random() < 0.5:
                s += "@" + rng.choice(HOSTILE_NUMBERS)
            return s
        return rng.choice(HOSTILE_TEXT)
    if kind == "index":
        return f"{rng.choice(COINS)}={rng.choice(HOSTILE_NUMBERS)}" if r < 0.7 else rng.choice(HOSTILE_TEXT)
    if kind == "instant":
        return rng.choice(["2026-12-25T08:00:00Z", "2027-03-26T08:00:00Z", "2026-02-30T00:00:00Z",
                           "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "10000-01-01T00:00:00Z",
                           "2026-12-25", "garbage", "", "2026-12-25T08:00:00+25:00", "-2026-01-01T00:00:00Z"])
    if kind == "format":
        return rng.choice(["json", "table", "csv", "bybit", "JSON", "", "xml"])
    if kind == "aggregation":
        return rng.choice(["auto", "dense", "sparse", "", "DENSE", "x"])
    if kind == "id":
        return rng.choice(HOSTILE_TEXT + ["A-1", "ok-id"])
    return rng.choice(HOSTILE_TEXT)


class Scratch:
    """Odd places for paths, made fresh in a scratch folder per execution."""

    def __init__(self, base, rng):
        self.base = base
        self.rng = rng
        self.n = 0

    def fresh(self, name="out"):
        self.n += 1
        return os.path.join(self.base, f"{name}{self.n}")

    def odd_path(self, wants):
        """A hostile path for an argument that wants a 'file', 'dir' (input) or 'out' (output folder)."""
        rng = self.rng
        b = self.base
        choice = rng.randrange(12)
        if choice == 0:
            return os.path.join(b, "missing", "x")
        if choice == 1:  # a folder where a file belongs / a file where a folder belongs
            p = self.fresh("d")
            os.mkdir(p)
            if wants != "file":
                p2 = self.fresh("f")
                open(p2, "w").close()
                return p2
            return p
        if choice == 2:
            p = self.fresh("empty")
            open(p, "w").close()
            return p
        if choice == 3:
            return "o"  # a one-letter relative folder (cwd is the scratch folder)
        if choice == 4:
            return self.fresh("t") + "/"
        if choice == 5:
            return "/dev/null"
        if choice == 6:
            return ""
        if choice == 7:
            return "."
        if choice == 8:
            p = self.fresh("ro")
            os.mkdir(p)
            os.chmod(p, 0o500)
            return os.path.join(p, "sub")
        if choice == 9:
            p = self.fresh("junk")
            with open(p, "wb") as f:
                f.write(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 200))))
            return p
        if choice == 10:
            return self.fresh("n\nl")
        return self.fresh("x" * 200)


def base_invocation(rng, cmd, s):
    """A valid invocation: (argv, out folder or None, expected output files, option kinds)."""
    out = s.fresh()
    if cmd == "margin":
        return (["margin", rng.choice([ACCOUNT, os.path.join(EX, "mixed-units.json")]), "--market", SAMPLE_MARKET],
                None, [], {"--params": "file", "--format": "format"})
    if cmd == "liquidate":
        return (["liquidate", os.path.join(EX, "liquidation.json"), "--market", SAMPLE_MARKET], None, [],
                {"--params": "file", "--format": "format"})
    if cmd == "whatif":
        return (["whatif", ACCOUNT, "--market", SAMPLE_MARKET, "--add", "BTCUSDT:0.1"], None, [],
                {"--params": "file", "--format": "format", "--add": "add", "--as-orders": None})
    if cmd == "batch":
        return (["batch", "--input", BATCH, "--market", SMALL_MARKET, "--out", out, "--quiet"], out,
                ["margins.csv", "units.csv", "manifest.json"],
                {"--params": "file", "--shard": "shard", "--threads": "number", "--block-size": "number",
                 "--aggregation": "aggregation"})
    if cmd == "sweep":
        return (["sweep", "--input", BATCH, "--market", SMALL_MARKET, "--set", "BTC.priceRange=0.1,0.12",
                 "--out", out], out, ["sweep.csv", "top.csv"],
                {"--params": "file", "--set": "set", "--shock": "shock", "--iv-scale": "list", "--top": "number",
                 "--threads": "number"})
    if cmd == "generate":
        return (["generate", "--accounts", str(rng.randint(1, 30)), "--seed", str(rng.randint(0, 9)), "--out", out],
                out, ["accounts.csv", "balances.csv", "positions.csv", "market.json"],
                {"--accounts": "count", "--seed": "number", "--market": "file", "--params": "file",
                 "--no-market-copy": None})
    if cmd == "split":
        return (["split", "--input", BATCH, "--shards", str(rng.randint(1, 4)), "--out", out], out, ["shard-0"],
                {"--shards": "count"})
    if cmd == "smile":
        return (["smile", "--market", SAMPLE_MARKET, "--format", rng.choice(["csv", "json", "table"])], None, [],
                {"--params": "file", "--coin": "id", "--expiry": "instant", "--strikes": "list", "--format": "format",
                 "--plot": "plot"})
    if cmd == "bybit-import":
        files = sorted(os.path.join(BYBIT, f) for f in os.listdir(BYBIT)
                       if f.endswith(".json") and f not in ("market.json", "account.json", "portfolio-margin-published.json"))
        return (["bybit", "import"] + files + ["--out", out], out, ["market.json", "account.json"],
                {"--id": "id", "--index": "index"})
    if cmd == "bybit-reconcile":
        return (["bybit", "reconcile", os.path.join(BYBIT, "portfolio-margin-published.json"),
                 "--account", os.path.join(BYBIT, "account.json"), "--market", os.path.join(BYBIT, "market.json")],
                None, [], {"--params": "file", "--format": "format", "--tolerance": "number"})
    if cmd == "explain":
        return (["explain", "--before", BATCH, "--before-market", SMALL_MARKET, "--after", BATCH,
                 "--after-market", rng.choice([SMALL_MARKET, SAMPLE_MARKET]), "--out", out], out,
                ["explain.csv", "explain-units.csv", "manifest.json"],
                {"--before-params": "file", "--after-params": "file", "--top": "number", "--threads": "number",
                 "--block-size": "number"})
    if cmd == "backtest":
        return (["backtest", "--input", BATCH, "--market", SMALL_MARKET, "--history", HISTORY,
                 "--from", "2024-01-01", "--out", out], out,
                ["backtest.csv", "backtest-units.csv", "scenarios.csv", "summary.json", "manifest.json"],
                {"--params": "file", "--horizon": "number", "--confidence": "number", "--shard": "shard",
                 "--threads": "number", "--from": "instant", "--to": "instant"})
    if cmd == "hedge":
        return (["hedge", ACCOUNT, "--market", SAMPLE_MARKET, "--format", rng.choice(["csv", "json", "table"])], None, [],
                {"--params": "file", "--coin": "id", "--top": "number", "--format": "format"})
    raise ValueError(cmd)


COMMANDS = ["margin", "liquidate", "whatif", "batch", "sweep", "generate", "split", "smile",
            "bybit-import", "bybit-reconcile", "explain", "backtest", "hedge"]
PATH_OPTIONS = {"--market", "--input", "--params", "--account", "--plot", "--out", "--history",
                "--before", "--after", "--before-market", "--after-market", "--before-params", "--after-params"}
OUTPUT_OPTIONS = {"--out", "--plot"}


def mutate(rng, argv, kinds, s):
    """One mutation of argv (a list), in place."""
    m = rng.randrange(7)
    opts = [i for i, a in enumerate(argv) if a.startswith("--") and i + 1 < len(argv) and not argv[i + 1].startswith("--")]
    if m == 0 and kinds:  # add an option with a grammar value (possibly repeating one)
        name = rng.choice(sorted(kinds))
        kind = kinds[name]
        if kind is None:
            argv.append(name)
        elif kind == "file":
            argv += [name, s.odd_path("file") if rng.random() < 0.5 else rng.choice([PARAMS, SMALL_MARKET, ACCOUNT])]
        elif kind == "plot":
            argv += [name, s.odd_path("out") if rng.random() < 0.5 else s.fresh("plot") + ".svg"]
        else:
            argv += [name, grammar_value(rng, kind)]
    elif m == 1 and opts:  # replace an option's value
        i = rng.choice(opts)
        name = argv[i]
        if name in PATH_OPTIONS:
            argv[i + 1] = s.odd_path("out" if name in OUTPUT_OPTIONS else ("dir" if name in ("--input", "--before", "--after") else "file"))
        else:
            argv[i + 1] = grammar_value(rng, kinds.get(name) or "number")
    elif m == 2 and opts:  # drop an option with its value
        i = rng.choice(opts)
        del argv[i:i + 2]
    elif m == 3:  # an unknown or malformed option
        argv.insert(rng.randrange(1, len(argv) + 1), rng.choice(["--nosuch", "-x", "--", "---", "--out=", "--threads=2"]))
    elif m == 4 and len(argv) > 2:  # a positional replaced by an odd path
        pos = [i for i in range(1, len(argv)) if not argv[i].startswith("--") and (i == 0 or not argv[i - 1].startswith("--"))]
        pos = [i for i in pos if argv[i] not in ("import", "reconcile")]
        if pos:
            argv[rng.choice(pos)] = s.odd_path("file")
    elif m == 5 and opts:  # repeat an option with another value
        i = rng.choice(opts)
        name = argv[i]
        val = (s.odd_path("out" if name in OUTPUT_OPTIONS else "file") if name in PATH_OPTIONS
               else grammar_value(rng, kinds.get(name) or "number"))
        argv += [name, val]
    else:  # a hostile text somewhere
        argv.insert(rng.randrange(1, len(argv) + 1), rng.choice(HOSTILE_TEXT))


CRASH_WORDS = ["Fatal error", "AddressSanitizer", "ThreadSanitizer", "UndefinedBehaviorSanitizer", "Stack dump",
               "Illegal instruction", "Segmentation fault", "free(): ", "double free", "malloc(): ",
               "Current stack trace", "Crash at"]


def listing(folder):
    try:
        return sorted(os.listdir(folder))
    except OSError:
        return None


def run_once(pm, argv, cwd, timeout):
    env = dict(os.environ)
    env["SWIFT_BACKTRACE"] = "enable=no"
    env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
    env["OPENBLAS_NUM_THREADS"] = "1"
    try:
        p = subprocess.run([pm] + argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timeout", b"", ""


def check(pm, rng, cmd, timeout, s, cwd):
    argv, out, files, kinds = base_invocation(rng, cmd, s)
    for _ in range(rng.randint(1, 3)):
        mutate(rng, argv, kinds, s)
    out_present = out is not None and out in argv
    before = set(listing(os.path.dirname(out)) or []) if out_present else set()
    rc, stdout, stderr = run_once(pm, argv, cwd, timeout)
    if rc == "timeout":
        return argv, f"no exit within {timeout} s"
    if rc not in (0, 1, 3):
        return argv, f"exit status {rc} (signal {-rc})" if rc < 0 else f"exit status {rc}"
    for w in CRASH_WORDS:
        if w in stderr:
            return argv, f"stderr has '{w}': {stderr[:300]!r}"
    if rc == 1:
        lines = [l for l in stderr.split("\n") if l]
        if len(lines) != 1:
            return argv, f"exit 1 with {len(lines)} stderr lines: {stderr[:400]!r}"
        if out_present:
            inside = listing(out)
            if inside:
                return argv, f"exit 1 but {out} holds {inside[:5]}"
            left = set(listing(os.path.dirname(out)) or []) - before - {os.path.basename(out)}
            hidden = sorted(x for x in left if x.startswith("."))
            if hidden:
                return argv, f"exit 1 left {hidden} beside {out}"
    elif out_present and files:
        inside = listing(out) or []
        missing = [f for f in files if f not in inside]
        if missing:
            return argv, f"exit {rc} but {out} lacks {missing}"
    if rc in (0, 3) and rng.random() < 0.125:
        argv2 = list(argv)
        out2 = None
        if out_present:
            out2 = s.fresh("again")
            argv2[argv2.index(out)] = out2
        if "--plot" in argv2:
            return None  # the plot path is one file: not run twice
        rc2, stdout2, _ = run_once(pm, argv2, cwd, timeout)
        if rc2 != rc:
            return argv, f"second run exit {rc2} != {rc}"
        if stdout2 != stdout and cmd not in ("bybit-reconcile",):
            # whatif/margin bybit format carries a time stamp in ms
            if b'"time"' not in stdout:
                return argv, "second run printed different stdout"
        if out_present and files:
            for f in sorted(listing(out) or []):
                if f == "manifest.json" or not os.path.isfile(os.path.join(out, f)):
                    continue
                with open(os.path.join(out, f), "rb") as a, open(os.path.join(out2, f), "rb") as b:
                    if a.read() != b.read():
                        return argv, f"second run wrote different {f}"
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("pm")
    ap.add_argument("--runs", type=int, default=0, help="executions (0: until --seconds)")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--keep", default=os.path.join(ROOT, ".build-fuzz", "findings", "argv"))
    a = ap.parse_args()
    pm = os.path.abspath(a.pm)
    rng = random.Random(a.seed)
    inputs = tempfile.mkdtemp(prefix="pm-argv-inputs-")
    set_inputs(inputs)
    pristine = snapshot(inputs)
    start = time.time()
    n = 0
    counts = {}
    findings = 0
    while (a.runs == 0 or n < a.runs) and (time.time() - start < a.seconds):
        cmd = COMMANDS[n % len(COMMANDS)]
        base = tempfile.mkdtemp(prefix="pm-argv-")
        try:
            s = Scratch(base, rng)
            result = check(pm, rng, cmd, a.timeout, s, base)
        finally:
            for dirpath, dirnames, _ in os.walk(base):
                for d in dirnames:
                    try:
                        os.chmod(os.path.join(dirpath, d), 0o700)
                    except OSError:
                        pass
            shutil.rmtree(base, ignore_errors=True)
        n += 1
        counts[cmd] = counts.get(cmd, 0) + 1
        if not result and snapshot(inputs) != pristine:
            result = (["(previous)"], "an input file was changed")
            shutil.rmtree(inputs)
            set_inputs(inputs)
        if result:
            argv, why = result
            findings += 1
            line = "pm " + " ".join(shlex.quote(x) for x in argv)
            print(f"fuzz argv: FINDING ({why}): {line}", flush=True)
            os.makedirs(a.keep, exist_ok=True)
            with open(os.path.join(a.keep, f"finding-{a.seed}-{n}.txt"), "w") as f:
                f.write(f"{why}\n{line}\n")
    shutil.rmtree(inputs, ignore_errors=True)
    per = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    print(f"fuzz argv: {n} executions in {time.time() - start:.0f} s ({per}), "
          f"{'no finding' if findings == 0 else str(findings) + ' findings'}")
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
