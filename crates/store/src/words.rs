//! The word index's tokenizer: lower-cased runs of alphanumeric characters.

use std::collections::BTreeSet;

use swapmesh_protocol::listing::Listing;

/// Longest word indexed, in bytes; longer runs are cut at a character boundary.
pub const MAX_WORD_BYTES: usize = 32;

/// Splits text into lower-cased words on every non-alphanumeric character.
pub fn words(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut w = w.to_lowercase();
            if w.len() > MAX_WORD_BYTES {
                let mut end = MAX_WORD_BYTES;
                while !w.is_char_boundary(end) {
                    end -= 1;
                }
                w.truncate(end);
            }
            w
        })
}

/// The distinct words of a listing's title, tags and category.
pub fn listing_words(listing: &Listing) -> BTreeSet<String> {
    let mut out: BTreeSet<String> = words(&listing.title).collect();
    out.extend(words(&listing.category));
    for tag in &listing.tags {
        out.extend(words(tag));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_non_alphanumerics_and_lower_cases() {
        let w: Vec<String> = words("Cordless drill, 18 V; e-Bike/ÄPFEL").collect();
        assert_eq!(w, ["cordless", "drill", "18", "v", "e", "bike", "äpfel"]);
    }

    #[test]
    fn long_words_are_cut_at_a_char_boundary() {
        let long = "é".repeat(40);
        let w: Vec<String> = words(&long).collect();
        assert_eq!(w.len(), 1);
        assert!(w[0].len() <= MAX_WORD_BYTES && w[0].chars().all(|c| c == 'é'));
    }
}
