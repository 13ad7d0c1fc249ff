#!/usr/bin/env python3
"""Checks the files an example wrote (run by the examples' ctests).

    check_svg.py DIR NAME=COUNT...

NAME.svg: parses as XML, has an <svg> root, and holds COUNT <g class="series">
elements, each with a data-label. NAME.csv: a header and COUNT data rows, every
row as long as the header, every field after the first a number.
Python 3 standard library only.
"""

import csv
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

SVG = "{http://www.w3.org/2000/svg}"


def check_svg(path, expected):
    root = ET.parse(path).getroot()
    if root.tag != SVG + "svg":
        return f"root element is {root.tag}, not an SVG <svg>"
    series = [g for g in root.iter(SVG + "g") if "series" in g.get("class", "").split()]
    if len(series) != expected:
        return f"{len(series)} series, expected {expected}"
    unlabelled = [g for g in series if g.get("data-label") is None]
    if unlabelled:
        return f"{len(unlabelled)} series without data-label"
    return None


def check_csv(path, expected):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return "empty"
    header, data = rows[0], rows[1:]
    if len(data) != expected:
        return f"{len(data)} data rows, expected {expected}"
    for number, row in enumerate(data, start=2):
        if len(row) != len(header):
            return f"line {number} has {len(row)} fields, the header {len(header)}"
        for field in row[1:]:
            try:
                if not math.isfinite(float(field)):
                    raise ValueError
            except ValueError:
                return f"line {number}: {field!r} is not a finite number"
    return None


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(argv[1])
    failures = 0
    for spec in argv[2:]:
        name, _, count = spec.partition("=")
        path = directory / name
        if not path.is_file():
            problem = "missing"
        else:
            try:
                check = check_csv if name.endswith(".csv") else check_svg
                problem = check(path, int(count))
            except (ET.ParseError, OSError, UnicodeDecodeError, csv.Error) as e:
                problem = f"unreadable: {e}"
        if problem:
            failures += 1
            print(f"FAIL {path}: {problem}")
        else:
            print(f"ok   {path}: {count} {'rows' if name.endswith('.csv') else 'series'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
