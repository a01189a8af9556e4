"""Printing the benchmark scripts' tables: columns padded to their widest cell."""

from __future__ import annotations

from typing import Sequence


def print_table(header: Sequence, rows: Sequence[Sequence]) -> None:
    """`header` and `rows` in columns two spaces apart, then a blank line."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(str(value).ljust(width) for value, width in zip(row, widths)))
    print()
