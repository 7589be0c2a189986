#!/usr/bin/env python3
"""Counts the public declarations of the library that have no doc comment.

A declaration is a line whose first token (after attributes such as @inlinable) is `public`
(`public import` excluded); it is documented when the nearest line above it that is not an
attribute is a `///` comment or ends a `*/` block. Usage:

    scripts/doc-coverage.py [FOLDER] [-v]      # FOLDER defaults to Sources/PortfolioMargin

Prints "N of M public declarations lack a doc comment" (and each one with -v); exits 1 when N > 0.
"""
import glob, re, sys

args = [a for a in sys.argv[1:] if a != "-v"]
root = args[0] if args else "Sources/PortfolioMargin"
total, missing = 0, []
for path in sorted(glob.glob(root + "/**/*.swift", recursive=True)):
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines):
        s = line.strip()
        if not re.match(r"(@\w+(\([^)]*\))?\s+)*public\b", s) or re.match(r"public\s+import\b", s):
            continue
        total += 1
        j = i - 1
        while j >= 0 and lines[j].strip().startswith("@"):
            j -= 1
        above = lines[j].strip() if j >= 0 else ""
        if not (above.startswith("///") or above.endswith("*/")):
            missing.append(f"{path}:{i + 1}: {s[:110]}")
print(f"{len(missing)} of {total} public declarations lack a doc comment")
if "-v" in sys.argv:
    print("\n".join(missing))
sys.exit(1 if missing else 0)
