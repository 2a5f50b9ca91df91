//! A span of an open log as a streamed body of text whose lines start with
//! their arrival time (`raw?timestamps=1`). Read in pieces on the blocking
//! pool like [`file_body`](super::file_body), rendered by the same
//! [`TextCursor`] as the live stream, with the times from the log's sidecar.

use std::io;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use pikaci_store::LogReader;
use tokio::sync::mpsc;

use super::file_body::PIECE;
use crate::live::receiver_stream;
use crate::live::text::{LineTimes, TextCursor};
use crate::live::timed::Timed;

/// What is carried from one piece to the next.
struct Walk {
    reader: Arc<LogReader>,
    text: TextCursor,
    timed: Timed,
}

/// Bytes `start..end` of `reader` as timestamped text; `at_line_start` says
/// whether `start` begins a line (a partial first line gets no time).
pub(crate) fn timed_body(
    reader: Arc<LogReader>,
    mut timed: Timed,
    start: u64,
    end: u64,
    at_line_start: bool,
) -> Body {
    let (tx, rx) = mpsc::channel::<io::Result<Bytes>>(1);
    tokio::spawn(async move {
        let mut walk = Some(Walk {
            reader,
            text: TextCursor::new(start, at_line_start),
            timed: {
                timed.refresh();
                timed
            },
        });
        loop {
            let mut w = walk.take().expect("put back after each piece");
            let done = w.text.read() >= end;
            let Ok((w, piece)) = tokio::task::spawn_blocking(move || {
                let piece = render(&mut w, end);
                (w, piece)
            })
            .await
            else {
                break;
            };
            walk = Some(w);
            if piece.as_ref().is_ok_and(Bytes::is_empty) && !done {
                continue; // all of it waits for the rest of a character
            }
            let failed = piece.is_err();
            if let Err(e) = &piece {
                tracing::error!(error = %e, "reading a log for a timestamped download failed");
            }
            if tx.send(piece).await.is_err() || failed || done {
                break;
            }
        }
    });
    Body::from_stream(receiver_stream(rx))
}

/// The next piece of text, or at the end what is left of a cut character.
fn render(w: &mut Walk, end: u64) -> io::Result<Bytes> {
    let at = w.text.read();
    if at >= end {
        return Ok(Bytes::from(
            w.text.finish(Some(&mut w.timed as &mut dyn LineTimes)),
        ));
    }
    let mut buf = vec![0u8; (end - at).min(PIECE as u64) as usize];
    let n = w
        .reader
        .read_at(&mut buf, at)
        .map_err(|e| io::Error::other(e.to_string()))?;
    if n == 0 {
        return Err(io::Error::other("the log is shorter than it was"));
    }
    let text = w
        .text
        .push(&buf[..n], Some(&mut w.timed as &mut dyn LineTimes));
    Ok(Bytes::from(text))
}
