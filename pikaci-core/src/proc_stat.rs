//! `/proc/<pid>/stat`: the few fields pikaci reads about a process.
//!
//! The line is `pid (comm) state ppid pgrp ...`; `comm` may itself contain
//! spaces and parentheses, so the fields are counted from the *last* `)`.

/// What `/proc/<pid>/stat` says about one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcStat {
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 4: the parent's pid.
    pub ppid: i32,
    /// Field 5: the process group.
    pub pgrp: i32,
    /// Field 22: when the process started, in clock ticks after boot. With
    /// the pid it names one process for the life of the machine (a pid can
    /// be reused, but not at the same tick).
    pub start_ticks: u64,
}

impl ProcStat {
    /// Parses the text of a `stat` file; `None` when it is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let (_, rest) = text.rsplit_once(')')?;
        let mut fields = rest.split_ascii_whitespace();
        // `rest` starts at field 3.
        let state = fields.next()?.chars().next()?;
        let ppid = fields.next()?.parse().ok()?;
        let pgrp = fields.next()?.parse().ok()?;
        // Fields 6..=21 are skipped; field 22 is the 20th after field 2.
        let start_ticks = fields.nth(16)?.parse().ok()?;
        Some(Self {
            state,
            ppid,
            pgrp,
            start_ticks,
        })
    }

    /// Reads `/proc/<pid>/stat`. A process that does not exist is
    /// `Err(NotFound)`; an unparsable file is `Err(InvalidData)`.
    pub fn read(pid: u32) -> std::io::Result<Self> {
        Self::read_path(&format!("/proc/{pid}/stat"))
    }

    /// Reads this process's own `stat`.
    pub fn read_self() -> std::io::Result<Self> {
        Self::read_path("/proc/self/stat")
    }

    fn read_path(path: &str) -> std::io::Result<Self> {
        use std::io::Read;
        // One read into a buffer on the stack: the line is a few hundred bytes
        // (`comm` is at most 64), and a scan of `/proc` reads hundreds of them.
        let mut buf = [0u8; 1024];
        let mut file = std::fs::File::open(path)?;
        let mut len = 0;
        while len < buf.len() {
            match file.read(&mut buf[len..]) {
                Ok(0) => break,
                Ok(n) => len += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        std::str::from_utf8(&buf[..len])
            .ok()
            .and_then(Self::parse)
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "unreadable proc stat")
            })
    }

    /// Every process `/proc` shows, with what its `stat` says (one that ends
    /// while the folder is read is left out).
    pub fn all() -> Vec<(u32, Self)> {
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return Vec::new();
        };
        dir.filter_map(|entry| {
            let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
            Some((pid, Self::read(pid).ok()?))
        })
        .collect()
    }

    /// Whether the process has ended and only waits to be reaped.
    pub fn is_dead(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_from_the_last_parenthesis() {
        let line =
            "4242 (a) b) (c) S 17 4242 17 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100";
        let stat = ProcStat::parse(line).unwrap();
        assert_eq!(
            stat,
            ProcStat {
                state: 'S',
                ppid: 17,
                pgrp: 4242,
                start_ticks: 987_654,
            }
        );
        assert!(!stat.is_dead());
        assert!(ProcStat::parse("no parenthesis").is_none());
        assert!(ProcStat::parse("1 (x) S 0 1").is_none());
    }

    #[test]
    fn this_process_and_its_children() {
        let me = ProcStat::read_self().unwrap();
        assert_eq!(me, ProcStat::read(std::process::id()).unwrap());
        let mut child = std::process::Command::new("sleep")
            .arg("10")
            .spawn()
            .unwrap();
        let stat = ProcStat::read(child.id()).unwrap();
        assert_eq!(stat.ppid as u32, std::process::id());
        assert!(stat.start_ticks >= me.start_ticks);
        assert!(
            ProcStat::all()
                .iter()
                .any(|(pid, s)| *pid == child.id() && s.ppid == stat.ppid)
        );
        child.kill().unwrap();
        child.wait().unwrap();
        let gone = ProcStat::read(child.id()).unwrap_err();
        assert_eq!(gone.kind(), std::io::ErrorKind::NotFound);
    }
}
