"""Writes examples/import/call-detail.parquet from examples/import/call-detail.utf8-bom.csv:
the same call-detail export as a data warehouse hands it over, times as TIMESTAMP without a
time zone (local times), the wait as INTEGER, the rest as text; Snappy-compressed, DuckDB's
default. Run by hand after editing the CSV (`python3 tools/gen_import_examples.py`); the
Parquet file is checked in so tests need no DuckDB to read it.
"""
import pathlib
import duckdb

HERE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "import"
csv = HERE / "call-detail.utf8-bom.csv"
out = HERE / "call-detail.parquet"
times = ["Ankomst", "Besvarat", "Återuppringning bokad", "Återuppringning utförd", "Avbrutet"]
con = duckdb.connect()
con.execute(f"""CREATE TABLE calls AS SELECT * FROM read_csv('{csv}', delim=';', header=true, all_varchar=true)""")
cols = [r[0] for r in con.execute("DESCRIBE calls").fetchall()]
def cast(c):
    q = f'"{c}"'
    if c in times:
        return f"CAST({q} AS TIMESTAMP) AS {q}"
    if c == "Väntetid (s)":
        return f"CAST({q} AS INTEGER) AS {q}"
    return q
con.execute(f"COPY (SELECT {', '.join(cast(c) for c in cols)} FROM calls) TO '{out}' (FORMAT parquet, COMPRESSION snappy)")
print(out, con.execute(f"SELECT count(*) FROM '{out}'").fetchone()[0], "rows")
