//! `[lanes] memory_max`, `pids_max` and `cpu_weight`: what each lane's
//! cgroup may use, with defaults that keep a fork bomb or a memory hog in a
//! lane from taking the host.

use pikaci_core::cgroup::CgroupLimits;
use serde::Deserialize;

/// Between SIGTERM and SIGKILL of a lane's process group: pikaci's own
/// contract for how long a pikaci told to stop needs to stop its jobs'
/// process groups (SIGTERM, then SIGKILL after the job grace) and write its
/// final record before it may be killed itself.
pub const LANE_KILL_GRACE: std::time::Duration = pikaci_core::contract::PIKACI_STOP_GRACE;

/// Processes and threads a lane may have at once, unless configured.
pub const DEFAULT_PIDS_MAX: u64 = 4096;
/// A lane's CPU weight, unless configured: half a normal process's, so the
/// server and the host's own work come first when the CPU is short.
pub const DEFAULT_CPU_WEIGHT: u16 = 50;
/// The share of the host's memory a lane may use, unless configured.
pub const DEFAULT_MEMORY_SHARE: (u64, u64) = (1, 2);

/// The limits as configured (`None`: the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct LaneLimits {
    /// Bytes of memory (`"2G"`, `"512M"`, or a number of bytes).
    pub memory_max: Option<ByteSize>,
    /// Processes and threads.
    pub pids_max: Option<u64>,
    /// CPU weight, 1 to 10000 (100: a normal process's).
    pub cpu_weight: Option<CpuWeight>,
}

impl LaneLimits {
    /// The limits each lane's cgroup gets, the defaults filled in;
    /// `mem_total` is the host's memory in bytes (`None`: unknown, and then
    /// memory is not limited by default).
    pub fn resolve(&self, mem_total: Option<u64>) -> CgroupLimits {
        let (num, den) = DEFAULT_MEMORY_SHARE;
        CgroupLimits {
            memory_max: self
                .memory_max
                .map(|b| b.0)
                .or(mem_total.map(|t| t / den * num)),
            pids_max: Some(self.pids_max.unwrap_or(DEFAULT_PIDS_MAX)),
            cpu_weight: Some(self.cpu_weight.map_or(DEFAULT_CPU_WEIGHT, |w| w.0)),
        }
    }
}

/// The host's memory, from the text of `/proc/meminfo`.
pub fn mem_total(meminfo: &str) -> Option<u64> {
    let kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

/// A number of bytes, written as a number or with a `K`, `M`, `G` or `T`
/// suffix (powers of 1024).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "ByteSizeText")]
pub struct ByteSize(pub u64);

#[derive(Deserialize)]
#[serde(untagged)]
enum ByteSizeText {
    Number(u64),
    Text(String),
}

impl TryFrom<ByteSizeText> for ByteSize {
    type Error = String;

    fn try_from(v: ByteSizeText) -> Result<Self, String> {
        let bytes = match v {
            ByteSizeText::Number(n) => n,
            ByteSizeText::Text(t) => {
                let t = t.trim();
                let (digits, shift) = match t.char_indices().last() {
                    Some((i, 'K' | 'k')) => (&t[..i], 10),
                    Some((i, 'M' | 'm')) => (&t[..i], 20),
                    Some((i, 'G' | 'g')) => (&t[..i], 30),
                    Some((i, 'T' | 't')) => (&t[..i], 40),
                    _ => (t, 0),
                };
                digits
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .and_then(|n| n.checked_mul(1 << shift))
                    .ok_or_else(|| {
                        format!("{t:?} is not a size (a number of bytes, or with K, M, G or T)")
                    })?
            }
        };
        // Below a few MiB nothing starts: a typo, not a limit.
        if bytes < 4 << 20 {
            return Err(format!(
                "{bytes} bytes is too little memory for a lane (at least 4M)"
            ));
        }
        Ok(Self(bytes))
    }
}

/// A CPU weight, 1 to 10000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "u64")]
pub struct CpuWeight(u16);

impl TryFrom<u64> for CpuWeight {
    type Error = String;

    fn try_from(w: u64) -> Result<Self, String> {
        match u16::try_from(w) {
            Ok(w @ 1..=10_000) => Ok(Self(w)),
            _ => Err(format!("cpu_weight {w} is outside 1 to 10000")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<LaneLimits, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn sizes_weights_and_defaults() {
        let l = parse("memory_max = \"2G\"\npids_max = 200\ncpu_weight = 20\n").unwrap();
        assert_eq!(
            l.resolve(Some(8 << 30)),
            CgroupLimits {
                memory_max: Some(2 << 30),
                pids_max: Some(200),
                cpu_weight: Some(20),
            }
        );
        assert_eq!(
            parse("memory_max = 67108864\n").unwrap().memory_max,
            Some(ByteSize(64 << 20))
        );
        let defaults = parse("").unwrap().resolve(Some(8 << 30));
        assert_eq!(
            defaults,
            CgroupLimits {
                memory_max: Some(4 << 30),
                pids_max: Some(DEFAULT_PIDS_MAX),
                cpu_weight: Some(DEFAULT_CPU_WEIGHT),
            }
        );
        assert_eq!(parse("").unwrap().resolve(None).memory_max, None);
        for bad in [
            "memory_max = \"lots\"",
            "memory_max = 1000",
            "cpu_weight = 0",
            "cpu_weight = 10001",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            mem_total("MemTotal:       24573412 kB\nMemFree: 1 kB\n"),
            Some(24_573_412 * 1024)
        );
        assert_eq!(mem_total("nothing"), None);
    }
}
