"""Write tables exactly as the official BAAC releases do: `;` separator, every field double-quoted,
decimal comma with a leading space before negative numbers, no-break-space thousands separators,
and the per-release quirks (encoding, BOM, line endings, 2022's misspelt file name and id column).

All formatting is vectorised with Arrow compute kernels and written by Arrow's CSV writer (no row loops).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pyarrow import csv

HEADERS = {
    "caracteristiques": ["Num_Acc", "jour", "mois", "an", "hrmn", "lum", "dep", "com", "agg", "int",
                         "atm", "col", "adr", "lat", "long"],
    "lieux": ["Num_Acc", "catr", "voie", "v1", "v2", "circ", "nbv", "vosp", "prof", "pr", "pr1", "plan",
              "lartpc", "larrout", "surf", "infra", "situ", "vma"],
    "vehicules": ["Num_Acc", "id_vehicule", "num_veh", "senc", "catv", "obs", "obsm", "choc", "manv",
                  "motor", "occutc"],
    "usagers": ["Num_Acc", "id_vehicule", "num_veh", "place", "catu", "grav", "sexe", "an_nais", "trajet",
                "secu1", "secu2", "secu3", "locp", "actp", "etatp"],
}


@dataclass(frozen=True)
class FileStyle:
    encoding: str = "utf-8"
    bom: bool = False
    newline: str = "\n"


# Release quirks reproduced on purpose so the ingester meets them offline.
YEAR_STYLES = {
    2019: FileStyle(encoding="latin-1"),
    2020: FileStyle(bom=True),
    2021: FileStyle(newline="\r\n"),
    2022: FileStyle(),
    2023: FileStyle(newline="\r\n"),
    2024: FileStyle(bom=True),
}


def file_name(table: str, year: int) -> str:
    if table == "caracteristiques" and year == 2022:
        return "carcteristiques-2022.csv"  # misspelt at the source
    return f"{table}-{year}.csv"


def header_for(table: str, year: int) -> list[str]:
    header = list(HEADERS[table])
    if table == "caracteristiques" and year == 2022:
        header[0] = "Accident_Id"
    return header


def _text(values) -> pa.Array:
    """Any numpy/pandas/list column -> arrow string array (numbers via arrow's own cast)."""
    if isinstance(values, pa.Array):
        return values if values.type == pa.string() else pc.cast(values, pa.string())
    arr = np.asarray(values)
    if arr.dtype.kind in "iub":
        return pc.cast(pa.array(arr.astype(np.int64)), pa.string())
    return pa.array(arr.astype(object) if arr.dtype.kind == "U" else arr, type=pa.string())


def concat(*parts) -> pa.Array:
    """Element-wise concatenation of text arrays and/or str scalars."""
    return pc.binary_join_element_wise(*[p if isinstance(p, str) else _text(p) for p in parts], "")


def where(mask, if_true, if_false) -> pa.Array:
    """Vectorised choice between two texts (arrays or str scalars)."""
    a = pa.scalar(if_true, pa.string()) if isinstance(if_true, str) else _text(if_true)
    b = pa.scalar(if_false, pa.string()) if isinstance(if_false, str) else _text(if_false)
    return pc.if_else(pa.array(np.asarray(mask, dtype=bool)), a, b)


def const(value: str, n: int) -> pa.Array:
    return choice([value], np.zeros(n, dtype=np.int32))


def choice(vocabulary, index) -> pa.Array:
    """vocabulary[index] as text, through a dictionary array (no per-row Python strings)."""
    dictionary = pa.array([str(v) for v in vocabulary], type=pa.string())
    codes = pa.array(np.asarray(index, dtype=np.int32))
    return pc.cast(pa.DictionaryArray.from_arrays(codes, dictionary), pa.string())


def fmt_int(values) -> pa.Array:
    """Integers as text; negatives get the leading space of the official files (" -1")."""
    v = np.asarray(values, dtype=np.int64)
    return where(v < 0, concat(" -", _text(np.abs(v))), _text(v))


def fmt_zero_pad(values, width: int) -> pa.Array:
    return pc.utf8_lpad(_text(np.asarray(values, dtype=np.int64)), width=width, padding="0")


def fmt_decimal(values, decimals: int) -> pa.Array:
    """Fixed decimals with a comma (" -22,2239590000"); NaN becomes an empty field."""
    v = np.asarray(values, dtype=float)
    missing = np.isnan(v)
    scale = 10**decimals
    scaled = np.round(np.abs(np.where(missing, 0.0, v)) * scale).astype(np.int64)
    text = concat(_text(scaled // scale), ",", fmt_zero_pad(scaled % scale, decimals))
    text = where(v < 0, concat(" -", text), text)
    return where(missing, "", text)


def fmt_thousands_nbsp(values) -> pa.Array:
    """100891 -> "100\u00a0891" (no-break space between groups of three digits)."""
    v = np.asarray(values, dtype=np.int64)
    text = _text(v % 1000)
    rest = v // 1000
    while np.any(rest > 0):
        group = where(rest >= 1000, fmt_zero_pad(rest % 1000, 3), _text(rest % 1000))
        text = where(rest > 0, concat(group, "\u00a0", pc.utf8_lpad(text, width=3, padding="0")), text)
        rest = rest // 1000
    return text


def csv_bytes(header: list[str], columns: list, style: FileStyle) -> bytes:
    """Quote every field (header too), `;` separator, every line ending with style.newline."""
    table = pa.Table.from_arrays([_text(c) for c in columns], names=header)
    sink = io.BytesIO()
    csv.write_csv(table, sink, csv.WriteOptions(delimiter=";", quoting_style="all_valid",
                                                 quoting_header="all_valid"))
    data = sink.getvalue()  # arrow writes UTF-8 with LF
    if style.newline != "\n":
        data = data.replace(b"\n", style.newline.encode("ascii"))
    if style.encoding.lower().replace("_", "-") not in ("utf-8", "utf8"):
        data = data.decode("utf-8").encode(style.encoding)
    return (b"\xef\xbb\xbf" + data) if style.bom else data


def write_table(out_dir: Path, table: str, year: int, columns: dict[str, np.ndarray]) -> Path:
    header = header_for(table, year)
    cols = [columns[name] for name in HEADERS[table]]  # same order; 2022 only renames the id header
    path = out_dir / file_name(table, year)
    path.write_bytes(csv_bytes(header, cols, YEAR_STYLES.get(year, FileStyle())))
    return path
