#!/usr/bin/env python3
"""Checks src/storage/schema.rs against the migrations, on both backends.

For each backend: apply every migration to an empty database, run them all down
and up again (`diesel migration redo --all`, so every down.sql is exercised),
then compare `diesel print-schema` with the committed schema.rs. schema.rs uses
portable types, so backend spellings are folded first (PostgreSQL's Int8 and
Float8 are BigInt and Double; a SQLite INTEGER PRIMARY KEY, printed as a nullable
Integer, is the 64-bit row id; SQLite prints any primary key without NOT NULL
as nullable).

Needs the `diesel` CLI (cargo install diesel_cli --no-default-features
--features postgres,sqlite-bundled) and a PostgreSQL server: PG_URL, default
TEST_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres (a scratch
database is created and dropped beside it). Exit status 1 on any difference.
"""
import os
import re
import subprocess
import sys
import tempfile
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_URL = os.environ.get(
    "PG_URL", os.environ.get("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
)

TABLE = re.compile(r"diesel::table!\s*\{\s*(\w+)\s*\((\w+)\)\s*\{(.*?)\}\s*\}", re.S)
COLUMN = re.compile(r"^\s*(\w+)\s*->\s*([\w<>]+),?\s*$")
ALIASES = {"Int8": "BigInt", "Float8": "Double", "Varchar": "Text", "Bool": "Bool"}


def tables(source, backend):
    """{table: {column: type}} from table! blocks, types folded to portable names."""
    out = {}
    for name, key, body in TABLE.findall(source):
        columns = {}
        for line in body.splitlines():
            m = COLUMN.match(line)
            if not m:
                continue
            column, ty = m.groups()
            for alias, portable in ALIASES.items():
                ty = re.sub(rf"\b{alias}\b", portable, ty)
            if backend == "sqlite" and column == key:
                # SQLite lets a primary key hold NULL unless it says NOT NULL
                # (settings.name does not; replyguard never writes one), and an
                # INTEGER PRIMARY KEY is the 64-bit row id.
                ty = re.sub(r"^Nullable<(.*)>$", r"\1", ty)
                ty = "BigInt" if ty == "Integer" else ty
            columns[column] = ty
        columns["(primary key)"] = key
        out[name] = columns
    return out


def run(*args):
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def printed(url, migrations):
    # --config-file /dev/null everywhere: diesel.toml would have diesel rewrite
    # schema.rs itself after migrating.
    none = ("--config-file", "/dev/null")
    run("diesel", "migration", "run", *none, "--database-url", url, "--migration-dir", migrations)
    run("diesel", "migration", "redo", "--all", *none, "--database-url", url, "--migration-dir", migrations)
    return run("diesel", "print-schema", *none, "--database-url", url)


def compare(backend, got, want):
    problems = []
    for table in sorted(set(got) | set(want)):
        if table not in want:
            problems.append(f"table {table} is in the migrations but not in schema.rs")
        elif table not in got:
            problems.append(f"table {table} is in schema.rs but not in the migrations")
        else:
            for column in sorted(set(got[table]) | set(want[table])):
                g, w = got[table].get(column), want[table].get(column)
                if g != w:
                    problems.append(f"{table}.{column}: migrations say {g}, schema.rs says {w}")
    for p in problems:
        print(f"{backend}: {p}")
    if not problems:
        print(f"{backend}: schema.rs matches the migrations ({len(got)} tables)")
    return not problems


def main():
    with open(os.path.join(ROOT, "src/storage/schema.rs")) as f:
        committed = f.read()
    want = tables(committed, "postgres")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        got = tables(printed(os.path.join(tmp, "check.db"), "migrations/sqlite"), "sqlite")
        ok &= compare("sqlite", got, tables(committed, "sqlite"))
    scratch = f"schema_check_{uuid.uuid4().hex[:12]}"
    parts = urllib.parse.urlsplit(PG_URL)
    scratch_url = urllib.parse.urlunsplit(parts._replace(path=f"/{scratch}"))
    run("psql", PG_URL, "-qc", f"CREATE DATABASE {scratch}")
    try:
        got = tables(printed(scratch_url, "migrations/postgres"), "postgres")
        ok &= compare("postgres", got, want)
    finally:
        run("psql", PG_URL, "-qc", f"DROP DATABASE IF EXISTS {scratch}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
