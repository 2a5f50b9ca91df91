//! [`LogChunk`]: a decoded piece of a log, read from an open file.

use std::io;

use camino::Utf8Path;

use crate::fs::{Fs, ReadAt};
use crate::range::{LogRange, MAX_READ_BYTES, plan_read, utf8_boundary_skip};

/// A piece of one log file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogChunk {
    /// The bytes read, decoded as UTF-8 with invalid sequences replaced.
    pub text: String,
    /// Where the chunk starts in the file.
    pub offset: u64,
    /// How many bytes of the file the chunk covers.
    pub len: u64,
    /// The file's size when it was read.
    pub total_size: u64,
    /// Whether the chunk leaves out part of the file (before or after it).
    pub truncated: bool,
    /// Whether the file exists (a job that has not written yet has no log).
    pub exists: bool,
}

impl LogChunk {
    /// The chunk of a log that does not exist (yet).
    pub fn missing() -> Self {
        Self {
            text: String::new(),
            offset: 0,
            len: 0,
            total_size: 0,
            truncated: false,
            exists: false,
        }
    }
}

/// Reads into all of `buf` from `at`, as far as the file goes; how many
/// bytes were read (fewer only at the end of the file).
pub(crate) fn read_full(file: &dyn ReadAt, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], at + filled as u64)? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Reads `range` of an open file (at most [`MAX_READ_BYTES`]), decoding it
/// lossily; a tail starts on a character boundary. The cost depends on the
/// range, not on the file's size.
pub(crate) fn read_chunk(file: &dyn ReadAt, range: LogRange) -> io::Result<LogChunk> {
    let size = file.size()?;
    let (mut start, len) = plan_read(range, size, MAX_READ_BYTES);
    let mut bytes = vec![0u8; len as usize];
    let filled = read_full(file, &mut bytes, start)?;
    bytes.truncate(filled);
    if matches!(range, LogRange::Tail(_)) && start > 0 {
        let skip = utf8_boundary_skip(&bytes);
        bytes.drain(..skip);
        start += skip as u64;
    }
    let len = bytes.len() as u64;
    Ok(LogChunk {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        offset: start,
        len,
        total_size: size,
        truncated: start > 0 || start + len < size,
        exists: true,
    })
}

/// Reads `range` of the file at `path` as [`JobLog::read`](crate::JobLog::read)
/// reads a job log; a missing file gives an empty chunk with `exists: false`.
/// Links are never followed (the [`Fs`] contract). For logs outside the run
/// layout, e.g. pika-news' lane logs; the caller vouches for `path`.
pub fn read_chunk_at<F: Fs + ?Sized>(
    fs: &F,
    path: &Utf8Path,
    range: LogRange,
) -> io::Result<LogChunk> {
    match fs.open_read(path) {
        Ok(file) => read_chunk(&*file, range),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(LogChunk::missing()),
        Err(e) => Err(e),
    }
}
