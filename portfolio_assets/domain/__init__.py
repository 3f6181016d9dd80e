"""SPEC 1-5, and pure rules over its reports (what changed, price lag): every rule lives in one module here.

- `stooq_tree`: scanning the unpacked Stooq tree into index entries (SPEC 1.1).
- `broker_lists`: reading broker CSV lists into instruments (SPEC 1.2).
- `matching`: matching an instrument to a Stooq file, or saying why not (SPEC 3).
- `price_files`, `price_scan`: reading one Stooq price file, exactly and fast.
- `diagnostics`: the data quality summary of one Stooq price file (SPEC 4).
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
