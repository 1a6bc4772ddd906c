//! The checks the Apify Python client makes on an actor definition.

use serde_json::{Map, Value};

use super::{given, invalid, DefinitionError};

/// The checks the Apify Python client makes on an actor definition.
pub(super) fn validate(def: &Map<String, Value>) -> Result<(), DefinitionError> {
    if let Some(spec) = given(def, "actorSpecification") {
        if spec.as_f64() != Some(1.0) {
            return Err(invalid(
                "actorSpecification",
                format!("must be 1, found {spec}"),
            ));
        }
    }
    if let Some(version) = given(def, "version") {
        let ok = version.as_str().is_some_and(|v| {
            let parts: Vec<&str> = v.split('.').collect();
            parts.len() >= 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        });
        if !ok {
            return Err(invalid(
                "version",
                format!(
                    "must be a string like \"0.0\" (numbers separated by dots), found {version}"
                ),
            ));
        }
    }
    for key in ["minMemoryMbytes", "maxMemoryMbytes"] {
        if let Some(memory) = given(def, key) {
            let ok = memory
                .as_f64()
                .is_some_and(|m| m.fract() == 0.0 && m >= 128.0);
            if !ok {
                return Err(invalid(
                    key,
                    format!("must be a whole number of megabytes, at least 128, found {memory}"),
                ));
            }
        }
    }
    Ok(())
}
