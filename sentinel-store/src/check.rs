//! Field checks shared by every stored record, and record ids.

use crate::error::{Error, Result};

/// Longest name (user, profile, id, ...) a store accepts, in bytes.
pub const MAX_NAME_LEN: usize = 256;

/// A name: not blank, at most [`MAX_NAME_LEN`] bytes, no control characters.
pub fn check_name(field: &'static str, v: &str) -> Result<()> {
    if v.trim().is_empty() {
        return Err(Error::invalid(field, "is empty"));
    }
    if v.len() > MAX_NAME_LEN {
        return Err(Error::invalid(
            field,
            format!("is {} bytes; at most {MAX_NAME_LEN}", v.len()),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(Error::invalid(field, "contains control characters"));
    }
    Ok(())
}

/// Free text (a reason, a justification): `min..=max` characters after
/// trimming, counted as characters, not bytes. `what` says what to write
/// when it is missing.
pub fn check_text(field: &'static str, v: &str, min: usize, max: usize, what: &str) -> Result<()> {
    let chars = v.trim().chars().count();
    if chars == 0 {
        return Err(Error::invalid(field, format!("is empty; {what}")));
    }
    if chars < min {
        return Err(Error::invalid(
            field,
            format!("is {chars} characters; at least {min} ({what})"),
        ));
    }
    if chars > max {
        return Err(Error::invalid(
            field,
            format!("is {chars} characters; at most {max}"),
        ));
    }
    Ok(())
}

/// A fresh random id: 128 bits as 32 lowercase hex characters.
pub fn new_id() -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Error::backend("random", std::io::Error::other(e.to_string())))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn names_and_texts() {
        assert!(check_name("user", "alice").is_ok());
        assert!(check_name("user", " ").is_err());
        assert!(check_name("user", "a\nb").is_err());
        assert!(check_name("user", &"a".repeat(257)).is_err());
        assert!(check_text("reason", "short", 10, 20, "say why").is_err());
        assert!(check_text("reason", "  long enough text ", 10, 20, "say why").is_ok());
        assert!(check_text("reason", "ééééééééééé", 10, 11, "say why").is_ok());
        let id = new_id().unwrap();
        assert_eq!(id.len(), 32);
        assert_ne!(id, new_id().unwrap());
    }
}
