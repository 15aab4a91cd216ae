//! Unicode normalisation for nicknames: the unicode-normalization and unicode-security crates'
//! tables on the server; in the browser, the browser's own `String.prototype.normalize`, so that
//! the page does not carry the tables (the server decides anyway: the page only checks early).
//!
//! The comparison form of a nickname ([`key`]) differs between the two for the same reason: on
//! the server it is a confusable skeleton (UTS #39), so that look-alike names are one name; the
//! page, which only colours names by it, folds case and width without the confusables table.

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use unicode_normalization::UnicodeNormalization;
    use unicode_security::skeleton;

    pub fn nfc(s: &str) -> String {
        s.nfc().collect()
    }

    pub fn nfkc(s: &str) -> String {
        s.nfkc().collect()
    }

    pub fn lowercase(s: &str) -> String {
        s.to_lowercase()
    }

    /// NFKC, case folded towards capitals, then the UTS #39 skeleton, lower-cased, and the
    /// skeleton again:
    ///
    /// - case first, so that the key stays case-insensitive in every script (Greek `Ν` looks
    ///   like `N`, its small `ν` like `v`: a skeleton before the case fold would tell `ΝΙΚΟΣ` from
    ///   `νικος`);
    /// - towards capitals (lower, then upper, so that `ß`, `ẞ` and `SS` agree), because capitals
    ///   are what foreign look-alikes imitate best (Cyrillic `МАRК`, whose small `марк` looks
    ///   like nothing Latin), and because the skeleton of capital `I` is `l`: `AIex` is `Alex`;
    /// - the second skeleton, on the small letters, catches what only small letters imitate
    ///   (`rn` for `m`: `Srnith` is `Smith`).
    ///
    /// Last, spaces are trimmed and runs of them collapsed, as the shown name's are: a char
    /// the skeleton turns into a space (U+2800 is one, refused in names since) must not make
    /// `System` + blank a name of its own.
    ///
    /// The result is only ever compared, never shown (`Kim` has the key `klrn`).
    pub fn key(s: &str) -> String {
        let capitals: String =
            nfkc(s).chars().flat_map(char::to_lowercase).flat_map(char::to_uppercase).collect();
        let small: String = skeleton(&capitals).flat_map(char::to_lowercase).collect();
        let twice: String = skeleton(&small).collect();
        twice.split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use js_sys::JsString;

    pub fn nfc(s: &str) -> String {
        JsString::from(s).normalize("NFC").into()
    }

    pub fn nfkc(s: &str) -> String {
        JsString::from(s).normalize("NFKC").into()
    }

    /// The browser's `toLowerCase`: Rust's own would bring Unicode's case tables into the wasm.
    pub fn lowercase(s: &str) -> String {
        JsString::from(s).to_lower_case().into()
    }

    /// NFKC, lower-cased, NFKC again: case and width, without look-alikes (see the module).
    /// A final sigma is folded to `σ` as Rust's `char::to_lowercase` did (`toLowerCase`
    /// writes `ς` at a word's end), so that a name's colour stays what it was.
    pub fn key(s: &str) -> String {
        let folded = lowercase(&nfkc(s)).replace('ς', "σ");
        nfkc(&folded)
    }
}

pub use imp::{key, lowercase, nfc, nfkc};
