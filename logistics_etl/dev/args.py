"""The argument types of the `logistics` commands: argparse names the option and says what is wrong in one line
(`argument --tables: no table named ...`), never a traceback."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from logistics_etl.contract import get_table


def at_least(minimum: int) -> Callable[[str], int]:
    """A whole number >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = f"whole number >= {minimum}"
    return parse


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def table_names(text: str) -> list[str]:
    """Source tables separated by commas, as the contract names them (any case); at least one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"no table named in {text!r}: give source tables separated by commas, "
                                         "e.g. Orders,Shipments, or leave the option out for all of them")
    try:
        return [get_table(n).name for n in names]
    except KeyError as exc:
        raise argparse.ArgumentTypeError(exc.args[0]) from None
