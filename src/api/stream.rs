//! Streamed downloads in flat memory: a whole keyset-paged view as CSV ([`csv_pages`]), the
//! suppression export read ahead of the client ([`ahead`]), and any [`Chunked`] source (a
//! node's snapshot) as a body read chunk by chunk when the client asks for more
//! ([`chunked_body`]).
//!
//! Takes a view's page function (the same one the JSON pages use) and the CSV header, or a
//! function giving the next chunk; gives a chunked body fed by a blocking task that reads
//! chunk by chunk, each with a connection taken for that chunk only, and waits while the
//! client is slower than the database (a bounded channel), so memory holds a few chunks
//! whatever the size, and the database reads the next chunk while the client takes the
//! last. A client that goes away stops the task. A database failure mid-stream can no
//! longer change the status: it is logged and the body ends with an error (the client sees
//! a cut transfer).

use crate::store::{AnyConnection, Db, Page, PageError, Paged};
use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::Stream;
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
    let mut page = Some(Page::first(CHUNK));
    let read = move |c: &mut AnyConnection| {
        let Some(at) = page.take() else { return Ok(None) };
        let paged = fetch(c, &at).map_err(|e| e.to_string())?;
        page = paged.next.clone().map(|cursor| Page { after: Some(cursor), ..at });
        Ok::<_, String>(Some(paged.rows))
    };
    let mut first = true;
    let write = move |rows: Vec<T>| {
        let mut w = csv::WriterBuilder::new().has_headers(false).from_writer(Vec::new());
        if std::mem::take(&mut first) {
            w.write_record(header).map_err(|e| e.to_string())?;
        }
        for row in &rows {
            w.serialize(row).map_err(|e| e.to_string())?;
        }
        w.into_inner().map_err(|e| e.to_string())
    };
    let body = ahead(db, read, write);
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CONTENT_DISPOSITION, format!("attachment; filename=\"{filename}\"")),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

/// The chunks `read` gives (None: the end), each written out by `write`, read on a
/// blocking thread with a connection taken for each call only and written on another, at
/// most [`AHEAD`] chunks ahead of the client: the database reads the next chunk while the
/// last is written and the client takes the one before, and a slow client holds threads
/// but no connection. A client that goes away stops both; a failure is logged and ends the
/// body with an error.
pub fn ahead<T, R, W, E>(db: Db, mut read: R, mut write: W) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send
where
    T: Send + 'static,
    R: FnMut(&mut AnyConnection) -> Result<Option<T>, E> + Send + 'static,
    W: FnMut(T) -> Result<Vec<u8>, E> + Send + 'static,
    E: std::fmt::Display,
{
    let (read_tx, read_rx) = std::sync::mpsc::sync_channel::<Result<T, String>>(1);
    tokio::task::spawn_blocking(move || {
        loop {
            // The connection goes back to the pool before the chunk waits to be written.
            let chunk = db.conn().map_err(|e| e.to_string()).and_then(|mut c| read(&mut c).map_err(|e| e.to_string()));
            let end = !matches!(chunk, Ok(Some(_)));
            // Sent Err(..) ends the writer; a closed channel means the client went away.
            if let Some(item) = chunk.transpose()
                && read_tx.send(item).is_err()
            {
                return;
            }
            if end {
                return;
            }
        }
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(AHEAD);
    tokio::task::spawn_blocking(move || {
        for chunk in read_rx {
            match chunk.and_then(|c| write(c).map_err(|e| e.to_string())) {
                // The client went away: stop (the reader stops at its next chunk).
                Ok(bytes) => {
                    if tx.blocking_send(Ok(Bytes::from(bytes))).is_err() {
                        return;
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "a streamed download stopped part way");
                    let _ = tx.blocking_send(Err(std::io::Error::other("the download stopped; see the server log")));
                    return;
                }
            }
        }
    });
    futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) })
}

/// A download read chunk by chunk, each chunk with a connection of its own.
pub trait Chunked: Send + 'static {
    fn next_chunk(&mut self, c: &mut AnyConnection) -> Result<Option<Vec<u8>>, crate::store::StoreError>;
    fn is_done(&self) -> bool;
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
