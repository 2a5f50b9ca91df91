//! The checks real Incus makes of what it is given: instance names, config
//! keys and disk devices (Incus 6.0.4's error texts).

use std::collections::BTreeMap;

use anyhow::{Result, bail};

/// Disk device options Incus knows (a subset is enough to reject typos).
const DISK_KEYS: &[&str] = &[
    "source",
    "path",
    "readonly",
    "io.bus",
    "io.cache",
    "shift",
    "required",
    "pool",
    "propagation",
    "recursive",
    "raw.mount.options",
    "size",
    "boot.priority",
    "limits.read",
    "limits.write",
    "limits.max",
];
const IO_BUSES: &[&str] = &[
    "virtiofs",
    "9p",
    "auto",
    "nvme",
    "virtio-blk",
    "virtio-scsi",
    "usb",
];

/// Whether `name` is a valid instance name.
pub(crate) fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && !name.ends_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
}

/// The checks Incus makes of a disk device's configuration.
pub(crate) fn check_device(dev: &str, config: &BTreeMap<String, String>) -> Result<()> {
    let invalid = |why: String| -> Result<()> {
        bail!(
            "Failed creating instance record: Failed initializing instance: Invalid devices: Device validation failed for \"{dev}\": {why}"
        )
    };
    let kind = config.get("type").map_or("", String::as_str);
    if kind != "disk" {
        return invalid(format!("Unsupported device type \"{kind}\""));
    }
    for (k, v) in config {
        if k == "type" {
            continue;
        }
        if !DISK_KEYS.contains(&k.as_str()) {
            return invalid(format!("Invalid device option \"{k}\""));
        }
        let bad = match k.as_str() {
            "readonly" | "shift" | "required" | "recursive" => !matches!(
                v.as_str(),
                "true" | "false" | "1" | "0" | "yes" | "no" | "on" | "off"
            ),
            "io.bus" => !IO_BUSES.contains(&v.as_str()),
            _ => false,
        };
        if bad {
            return invalid(format!("Invalid value for device option \"{k}\": {v:?}"));
        }
    }
    if config.get("source").is_some_and(|s| s.starts_with('/')) && !config.contains_key("path") {
        return invalid("Disk entry is missing the required \"path\" property".into());
    }
    Ok(())
}

/// The `devices` of the instance configuration on stdin, each checked; no
/// input (a terminal or `/dev/null`) is no devices.
pub(crate) fn stdin_devices() -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    use std::io::{IsTerminal, Read};
    let mut text = String::new();
    if !std::io::stdin().is_terminal() {
        std::io::stdin().read_to_string(&mut text)?;
    }
    if text.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    #[derive(serde::Deserialize)]
    struct Put {
        #[serde(default)]
        devices: BTreeMap<String, BTreeMap<String, String>>,
    }
    let put: Put = serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("yaml: unmarshal errors: {e} (this stand-in reads JSON)"))?;
    let mut seen = std::collections::BTreeSet::new();
    for (dev, config) in &put.devices {
        check_device(dev, config)?;
        if let Some(path) = config.get("path")
            && !seen.insert(path.clone())
        {
            bail!(
                "Failed creating instance record: Failed initializing instance: Invalid devices: More than one disk device uses the same path {path:?}"
            );
        }
    }
    Ok(put.devices)
}

/// The checks Incus makes of an instance config key and its value.
pub(crate) fn check_config(k: &str, v: &str) -> Result<()> {
    match k {
        "limits.cpu" if v.parse::<u32>().map_or(true, |n| n == 0) => {
            bail!("Invalid config: Invalid value for \"limits.cpu\": {v:?}")
        }
        "limits.memory" if !v.ends_with("iB") && !v.ends_with('%') && v.parse::<u64>().is_err() => {
            bail!("Invalid config: Invalid value for \"limits.memory\": {v:?}")
        }
        "limits.cpu" | "limits.memory" => Ok(()),
        k if k.starts_with("user.") || k.starts_with("environment.") => Ok(()),
        _ => bail!("Unknown configuration key: {k}"),
    }
}
