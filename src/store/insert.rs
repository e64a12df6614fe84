//! Multi-row inserts the way each backend does them best — the one place that matches on
//! the backend for them.
//!
//! PostgreSQL: a few hundred rows per statement (one round trip each; `per_statement` keeps
//! rows × columns under its 65,535 bind parameters). SQLite: row by row, which costs no round
//! trips in-process, and diesel's multi-backend connection cannot build multi-row inserts
//! for it anyway (the widest, busiest tables — events, provenance — insert a batch in one
//! statement there instead: [`super::json_rows`]). Written as macros because the statement types differ per table and
//! backend, which a generic function cannot name without a wall of trait bounds.

/// Inserts every row of `$rows` (a slice of `Insertable` rows) into `$table`.
#[macro_export]
macro_rules! insert_rows {
    ($c:expr, $table:expr, $rows:expr, $per_statement:expr) => {{
        use diesel::RunQueryDsl as _;
        match $c {
            $crate::store::AnyConnection::Postgresql(pg) => {
                for chunk in $rows.chunks($per_statement) {
                    diesel::insert_into($table).values(chunk).execute(pg)?;
                }
            }
            $crate::store::AnyConnection::Sqlite(lite) => {
                for row in $rows.iter() {
                    diesel::insert_into($table).values(row).execute(lite)?;
                }
            }
        }
    }};
}

/// Inserts every row of `$rows` and gives their ids in the same order. On PostgreSQL the
/// ids come back keyed by `$key_cols` (RETURNING does not promise the VALUES order) and are
/// put in order with `$row_key`, which must give the same key (of type `$key_ty`) for a row;
/// rows whose keys repeat (which no key could tell apart) are inserted one by one instead.
#[macro_export]
macro_rules! insert_rows_returning_ids {
    ($c:expr, $table:expr, $rows:expr, $per_statement:expr, $key_cols:expr => $key_ty:ty, $id_col:expr, $row_key:expr) => {{
        use diesel::RunQueryDsl as _;
        match $c {
            $crate::store::AnyConnection::Postgresql(pg)
                if $rows.iter().map(|r| $row_key(r)).collect::<std::collections::HashSet<$key_ty>>().len()
                    < $rows.len() =>
            {
                $rows
                    .iter()
                    .map(|r| diesel::insert_into($table).values(r).returning($id_col).get_result::<i64>(pg))
                    .collect::<Result<Vec<i64>, _>>()?
            }
            $crate::store::AnyConnection::Postgresql(pg) => {
                let mut ids: std::collections::HashMap<$key_ty, i64> = std::collections::HashMap::new();
                for chunk in $rows.chunks($per_statement) {
                    let got: Vec<($key_ty, i64)> =
                        diesel::insert_into($table).values(chunk).returning(($key_cols, $id_col)).get_results(pg)?;
                    ids.extend(got);
                }
                $rows.iter().map(|r| ids.get(&$row_key(r)).copied().unwrap_or_default()).collect::<Vec<i64>>()
            }
            $crate::store::AnyConnection::Sqlite(lite) => $rows
                .iter()
                .map(|r| diesel::insert_into($table).values(r).returning($id_col).get_result::<i64>(lite))
                .collect::<Result<Vec<i64>, _>>()?,
        }
    }};
}
