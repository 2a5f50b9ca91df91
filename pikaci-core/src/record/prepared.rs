//! [`PreparedOutputs`]: `runs/<id>/prepared-outputs.json`, what a run
//! prepared (built outputs a later job or run can use), as the earlier
//! pikaci writes it. Only the keys readers show are modelled; every other
//! key is kept as read.

use serde::{Deserialize, Serialize};

use super::model::Extra;

/// The prepared outputs of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreparedOutputs {
    /// The version of the file's shape (1 so far).
    pub schema_version: u32,
    /// Each prepared output.
    #[serde(default)]
    pub outputs: Vec<PreparedOutput>,
    /// Keys this version does not model, kept as read.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, serde_json::Value>))]
    pub extra: Extra,
}

/// One prepared output: which plan node built it, from what, and where it is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PreparedOutput {
    /// The plan node that prepared it.
    pub node_id: String,
    /// What was built (a Nix installable, for the earlier pikaci).
    pub installable: String,
    /// The output's name.
    pub output_name: String,
    /// Where the built output is (informative: never opened by readers).
    pub realized_path: String,
    /// Keys this version does not model (`protocol`, `consumer`,
    /// `payload`...), kept as read.
    #[serde(flatten)]
    #[cfg_attr(feature = "openapi", schema(value_type = std::collections::BTreeMap<String, serde_json::Value>))]
    pub extra: Extra,
}

impl PreparedOutput {
    /// The payload's kind (`payload.kind`), when the output has a payload.
    pub fn payload_kind(&self) -> Option<&str> {
        self.extra.get("payload")?.get("kind")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_earlier_pikacis_file_and_keeps_what_it_does_not_model() {
        let text = r#"{"schema_version":1,"outputs":[{"node_id":"prepare-pika-rust",
            "installable":".#ci.x86_64-linux.workspaceDeps","output_name":"workspace-deps",
            "protocol":"nix_store_path_v1","consumer":"host_local_symlink_mounts_v1",
            "realized_path":"/nix/store/abc-deps","exposures":[],
            "payload":{"schema_version":1,"kind":"cargo_workspace","entrypoints":[]}}]}"#;
        let p: PreparedOutputs = serde_json::from_str(text).unwrap();
        assert_eq!(p.outputs[0].output_name, "workspace-deps");
        assert_eq!(p.outputs[0].payload_kind(), Some("cargo_workspace"));
        let back = serde_json::to_value(&p).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(text).unwrap()
        );
    }
}
