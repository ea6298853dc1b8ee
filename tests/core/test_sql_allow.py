"""Every function DuckDB offers, with every extension the project loads, is either allowed on purpose
or refused: a new DuckDB release (or a new extension) cannot open a hole in `accidents sql` unnoticed."""

from __future__ import annotations

import re

import duckdb
import pytest

from pipeline.core.lake import install_extensions
from pipeline.core.lake.sql_allow import (PROJECT_EXTENSIONS, REFUSED_FUNCTIONS, TABLE_FUNCTIONS, QueryRefused,
                                     allowed_functions, check_query, offered_functions)


@pytest.fixture(scope="module")
def con():
    connection = duckdb.connect()
    install_extensions(connection, PROJECT_EXTENSIONS)
    yield connection
    connection.close()


def test_every_table_function_is_allowed_on_purpose_or_refused(con):
    offered = offered_functions(con)
    table_functions = {name for name, kind in offered.items() if kind in ("table", "table_macro")}
    unclassified = sorted(name for name in table_functions if name not in TABLE_FUNCTIONS and name not in REFUSED_FUNCTIONS)
    assert not unclassified, f"new table functions to review in pipeline/core/lake/sql_allow.py: {unclassified}"
    assert not set(TABLE_FUNCTIONS) & set(REFUSED_FUNCTIONS)


def test_every_other_function_is_on_the_reviewed_list_or_refused(con):
    offered = offered_functions(con)
    callable_names = {name for name, kind in offered.items() if kind not in ("table", "table_macro")}
    unreviewed = sorted(n for n in callable_names if n.lower() not in allowed_functions() and n not in REFUSED_FUNCTIONS)
    assert not unreviewed, (f"new functions to review, then `python -m pipeline.core.lake.sql_allow --write`: "
                            f"{unreviewed[:20]}")
    assert not allowed_functions() & {n.lower() for n in REFUSED_FUNCTIONS}


def test_no_allowed_table_function_reads_a_file_or_another_database(con):
    """What each allowed table function takes: none has a path or SQL text among its parameters."""
    rows = con.execute("SELECT function_name, parameters FROM duckdb_functions() WHERE function_type IN "
                       "('table', 'table_macro')").fetchall()
    for name, parameters in rows:
        if name in TABLE_FUNCTIONS:
            assert not {p.lower() for p in parameters} & {"path", "file", "files", "filename", "query", "sql"}, name


@pytest.mark.parametrize("name", sorted(n for n, why in REFUSED_FUNCTIONS.items()))
def test_each_refused_function_is_refused_before_running(con, name):
    kind = offered_functions(con).get(name)
    query = f"SELECT * FROM {name}('x')" if kind in ("table", "table_macro", None) else f"SELECT {name}('x')"
    with pytest.raises(QueryRefused, match=rf"(?i){name}\(\) is not allowed in `accidents sql` \({re.escape(REFUSED_FUNCTIONS[name])}"):
        check_query(con, query)
