//! Node keys: generation and the 24-word BIP-39 mnemonic whose entropy is the
//! 32-byte secret key itself (nothing derived), so the words are the key.

use bip39::Mnemonic;
use ed25519_dalek::SigningKey;
use thiserror::Error;

/// Why a mnemonic is refused.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MnemonicError {
    /// Not a valid BIP-39 English mnemonic (unknown word, bad checksum, wrong count).
    #[error("not a valid BIP-39 mnemonic: {0}")]
    Invalid(String),
    /// A valid mnemonic, but not of 24 words (256 bits).
    #[error("expected 24 words, got {0}")]
    WrongLength(usize),
}

/// A fresh key from the operating system's randomness.
pub fn generate() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// The 24 words of a key.
pub fn to_mnemonic(key: &SigningKey) -> String {
    Mnemonic::from_entropy(&key.to_bytes())
        .expect("32 bytes is a valid BIP-39 entropy length")
        .to_string()
}

/// The key of 24 words.
pub fn from_mnemonic(words: &str) -> Result<SigningKey, MnemonicError> {
    let count = words.split_whitespace().count();
    let mnemonic = Mnemonic::parse(words).map_err(|e| MnemonicError::Invalid(e.to_string()))?;
    let (entropy, len) = mnemonic.to_entropy_array();
    let secret: [u8; 32] = entropy[..len]
        .try_into()
        .map_err(|_| MnemonicError::WrongLength(count))?;
    Ok(SigningKey::from_bytes(&secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnemonic_round_trip() {
        let key = generate();
        let words = to_mnemonic(&key);
        assert_eq!(words.split(' ').count(), 24);
        assert_eq!(from_mnemonic(&words).unwrap().to_bytes(), key.to_bytes());
    }

    #[test]
    fn wrong_checksum_word_is_refused() {
        let key = SigningKey::from_bytes(&[42; 32]);
        let words = to_mnemonic(&key);
        let mut list: Vec<&str> = words.split(' ').collect();
        // Replace the last word (which carries the checksum) with another word.
        let last = list[23];
        list[23] = if last == "abandon" {
            "ability"
        } else {
            "abandon"
        };
        let err = from_mnemonic(&list.join(" ")).unwrap_err();
        assert!(matches!(err, MnemonicError::Invalid(_)), "{err}");
    }

    #[test]
    fn twelve_words_are_refused() {
        let twelve = Mnemonic::from_entropy(&[1u8; 16]).unwrap().to_string();
        assert_eq!(from_mnemonic(&twelve), Err(MnemonicError::WrongLength(12)));
    }
}
