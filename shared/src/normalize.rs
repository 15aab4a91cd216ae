//! Unicode normalisation for nicknames: the unicode-normalization crate's tables on the
//! server; in the browser, the browser's own `String.prototype.normalize`, so that the page
//! does not carry the tables (the server decides anyway: the page only checks early).

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use unicode_normalization::UnicodeNormalization;

    pub fn nfc(s: &str) -> String {
        s.nfc().collect()
    }

    pub fn nfkc(s: &str) -> String {
        s.nfkc().collect()
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
}

pub use imp::{nfc, nfkc};
