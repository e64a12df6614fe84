//! Streamed downloads in flat memory: a whole keyset-paged view as CSV ([`csv_pages`]), and
//! any [`Chunked`] source (the suppression export, a node's snapshot) as a body read chunk
//! by chunk when the client asks for more ([`chunked_body`]).
//!
//! Takes a view's page function (the same one the JSON pages use) and the CSV header; gives
//! a chunked response fed by a blocking task that reads the view chunk by chunk, each with a
//! connection taken for that chunk only, and waits while the client is slower than the
//! database (a bounded channel), so memory holds a few chunks whatever the view's size. A
//! client that goes away stops the task. A database failure mid-stream can no longer change
//! the status: it is logged and the body ends with an error (the client sees a cut transfer).

use crate::store::{AnyConnection, Db, Page, PageError, Paged};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Rows read per statement.
const CHUNK: i64 = 2000;
/// Chunks encoded ahead of the client.
const AHEAD: usize = 4;

/// Streams every row of the view `fetch` pages through, as CSV with `header` (the names of
/// `T`'s fields in order), as a download named `filename`.
pub fn csv_pages<T, F>(db: Db, header: &'static [&'static str], filename: String, mut fetch: F) -> Response
where
    T: Serialize + Send + 'static,
    F: FnMut(&mut AnyConnection, &Page) -> Result<Paged<T>, PageError> + Send + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut page = Page::first(CHUNK);
        let mut first = true;
        loop {
            let read = db.conn().map_err(PageError::from).and_then(|mut c| fetch(&mut c, &page));
            let encoded = read.map_err(|e| e.to_string()).and_then(|paged| {
                let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
                if first {
                    w.write_record(header).map_err(|e| e.to_string())?;
                }
                for row in &paged.rows {
                    w.serialize(row).map_err(|e| e.to_string())?;
                }
                Ok((w.into_inner().map_err(|e| e.to_string())?, paged.next))
            });
            first = false;
            let (bytes, next) = match encoded {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(error = %e, "a CSV export stopped part way");
                    let _ = tx.blocking_send(Err(std::io::Error::other("the export stopped; see the server log")));
                    return;
                }
            };
            // The client went away: stop reading.
            if tx.blocking_send(Ok(Bytes::from(bytes))).is_err() {
                return;
            }
            match next {
                Some(cursor) => page.after = Some(cursor),
                None => return,
            }
        }
    });
    let body = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// A download read chunk by chunk, each chunk with a connection of its own.
pub trait Chunked: Send + 'static {
    fn next_chunk(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, crate::store::StoreError>;
    fn is_done(&self) -> bool;
}

impl Chunked for crate::suppress::export::Export {
    fn next_chunk(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        crate::suppress::export::Export::next_chunk(self, c)
    }
    fn is_done(&self) -> bool {
        crate::suppress::export::Export::is_done(self)
    }
}

impl Chunked for crate::sync::snapshot::Snapshot {
    fn next_chunk(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        crate::sync::snapshot::Snapshot::next_chunk(self, c)
    }
    fn is_done(&self) -> bool {
        crate::sync::snapshot::Snapshot::is_done(self)
    }
}

/// The streamed body of `source`. The first chunk is read before the answer, so a database
/// that does not answer is a proper error; each later one only when the client has taken the
/// previous one, so a slow reader holds no connection. A failure mid-way cuts the body short
/// (logged as `what`) rather than ending it cleanly.
pub async fn chunked_body<T: Chunked>(
    db: &Db,
    source: T,
    what: &'static str,
) -> Result<Body, crate::store::StoreError> {
    use futures_util::StreamExt;
    let (source, first) = db
        .run(move |c| {
            let mut s = source;
            s.next_chunk(c).map(|chunk| (s, chunk.unwrap_or_default()))
        })
        .await?;
    let db = db.clone();
    let rest = futures_util::stream::unfold(Some(source), move |st| {
        let db = db.clone();
        async move {
            let s = st.filter(|s| !s.is_done())?;
            let read = db
                .run(move |c| {
                    let mut s = s;
                    s.next_chunk(c).map(|chunk| (s, chunk))
                })
                .await;
            match read {
                Ok((s, Some(chunk))) => Some((Ok(Bytes::from(chunk)), Some(s))),
                Ok((_, None)) => None,
                Err(err) => {
                    tracing::warn!(error = %err, "{what} cut short");
                    Some((Err(std::io::Error::other(err.to_string())), None))
                }
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(Bytes::from(first)) }).chain(rest);
    Ok(Body::from_stream(body))
}
