"""SPEC 1-5, and pure rules over its reports (what changed, price lag): every rule lives in one module here.

- `stooq_tree`: scanning the unpacked Stooq tree into index entries (SPEC 1.1), and a
  ticker's base and extension (`split_ticker`, SPEC 3).
- `broker_lists`: reading broker CSV lists into instruments (SPEC 1.2).
- `matching`: matching an instrument to a Stooq file, or saying why not (SPEC 3).
- `price_files`: the lines of a price file: which are rows, which an export keeps (SPEC 2, 4).
- `diagnostics`: the data quality summary of one Stooq price file, and its atoms: a
  valid date, a number (SPEC 4).
- `price_scan`: a price file's bytes into its diagnostics and its export, vectorised
  (pyarrow) from those atoms where the file is regular, row by row where not.
- `currency`: inferred, expected and resolved currencies (SPEC 5).
- `reports`: the match and unmatched report rows and CSV files (SPEC 2).
- `exports`: planning and rendering one clean price file per matched ticker (SPEC 2).
- `changes`: what changed in the universe between two versions of the reports.
- `price_lag`: business days and how far a matched instrument's prices lag its region.
- `csv_files`: the one CSV dialect of every file written.
- `errors`, `settings`: bad input, and the validated user settings.

Nothing here imports from the rest of the package but `errors` and `settings`.
"""

__all__: list[str] = []
