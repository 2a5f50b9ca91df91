//! A span of an open log as a streamed response body.
//!
//! The file is never held whole in memory: a task reads it in pieces of
//! [`PIECE`] bytes on the blocking pool (never on an async worker) and hands
//! each to the body through a channel of one, so a download holds at most
//! about two pieces however large the log and however slow the client, and
//! the next piece is read while the previous one is being sent. Every piece
//! is read only once its size is taken from the server's [`ByteBudget`] and
//! gives it back when sent, so all downloads together hold at most that
//! budget: clients that read nothing make others wait, not the server grow.

use std::io;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use pikaci_store::LogReader;
use tokio::sync::mpsc;

use crate::live::receiver_stream;
pub(crate) use crate::reads::DOWNLOAD_PIECE as PIECE;
use crate::reads::{ByteBudget, read_piece};

/// Bytes `start..end` of `reader` as a body. A log that turns out shorter
/// than `end` (it was replaced) ends the body with an error, which aborts the
/// answer rather than sending fewer bytes than its `Content-Length` says.
pub(crate) fn file_body(reader: Arc<LogReader>, start: u64, end: u64, budget: ByteBudget) -> Body {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(1);
    tokio::spawn(async move {
        let mut at = start;
        while at < end {
            let len = (end - at).min(PIECE as u64) as usize;
            // A client gone while this waits closes the channel: stop.
            let permit = tokio::select! {
                permit = budget.take(len) => permit,
                () = tx.closed() => break,
            };
            let Some(permit) = permit else { break };
            let r = reader.clone();
            let piece = tokio::task::spawn_blocking(move || {
                read_piece(&r, at, len).map(|buf| ByteBudget::hold(buf, permit))
            })
            .await
            .unwrap_or_else(|e| Err(io::Error::other(format!("a read task failed: {e}"))));
            let failed = piece.is_err();
            if let Ok(p) = &piece {
                at += p.len() as u64;
            }
            if let Err(e) = &piece {
                tracing::error!(error = %e, "reading a log for a download failed");
            }
            // A client that went away closes the channel: stop reading.
            if tx.send(piece).await.is_err() || failed {
                break;
            }
        }
    });
    Body::from_stream(receiver_stream(rx))
}
