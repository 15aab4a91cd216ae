//! Build script: copies the trunk-built page (../dist) into the build's output directory with a
//! brotli (`.br`) and a gzip (`.gz`) copy of each text or wasm file, so that the binary embeds
//! the page precompressed and never compresses it per request.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Extensions worth compressing (images and fonts in the page are already compressed).
const COMPRESSIBLE: &[&str] = &["html", "js", "mjs", "css", "wasm", "svg", "json", "txt", "map", "ico"];

fn main() -> io::Result<()> {
    let manifest =
        PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let dist = manifest.join("../dist");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("page");
    println!("cargo:rerun-if-changed={}", dist.display());
    if out.exists() {
        fs::remove_dir_all(&out)?;
    }
    fs::create_dir_all(&out)?;
    if dist.is_dir() {
        copy_compressed(&dist, &out)?;
    } else {
        println!(
            "cargo:warning=../dist is missing: this chat-server serves no page (run `trunk build --release` first)"
        );
    }
    Ok(())
}

fn copy_compressed(from: &Path, to: &Path) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        println!("cargo:rerun-if-changed={}", path.display());
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy_compressed(&path, &target)?;
            continue;
        }
        let data = fs::read(&path)?;
        fs::write(&target, &data)?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or_default();
        if !COMPRESSIBLE.contains(&ext) {
            continue;
        }
        // Keep a variant only when it is smaller than the original.
        let br = brotli(&data)?;
        if br.len() < data.len() {
            fs::write(with_suffix(&target, "br"), br)?;
        }
        let gz = gzip(&data)?;
        if gz.len() < data.len() {
            fs::write(with_suffix(&target, "gz"), gz)?;
        }
    }
    Ok(())
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn brotli(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut writer = brotli::CompressorWriter::new(&mut out, 64 * 1024, 11, 22);
        writer.write_all(data)?;
    }
    Ok(out)
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    encoder.finish()
}
