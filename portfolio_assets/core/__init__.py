"""The Dagster-free domain core: every rule of SPEC.md lives in one module here.

- `stooq_tree`: scanning the unpacked Stooq tree into index entries.
- `broker_lists`: reading broker CSV lists into instruments.
- `matching`: matching an instrument to a Stooq file, or saying why not.
- `diagnostics`: the data quality summary of one Stooq price file.
- `currency`: inferred, expected and resolved currencies.
- `reports`: the match and unmatched report rows and CSV files.
- `exports`: one clean price file per matched ticker.
- `fingerprints`: content and stat hashes used as data versions.
- `atomic_files`: temp-file-and-rename writes.
- `settings`: validated user settings and their environment variables.
- `sample`: the generated sample world.
"""
