//! A counting allocator for finding what the page's wasm memory keeps (cargo feature
//! `leak-probe`, never in a shipped page): the live blocks by size, and the JS stacks of live
//! blocks of chosen sizes, read by tests/browser/leak_probe.js through `window.wasmBindings`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use wasm_bindgen::prelude::wasm_bindgen;

/// Size classes of 4 bytes up to 512; the last class holds every larger block.
const CLASSES: usize = 129;
/// One traced block in this many has its stack taken (stacks are slow to take).
const TRACE_ONE_IN: usize = 8;
/// At most this many stacks are kept.
const TRACED_MAX: usize = 20_000;

static LIVE: [AtomicUsize; CLASSES] = [const { AtomicUsize::new(0) }; CLASSES];
static LIVE_BYTES: AtomicUsize = AtomicUsize::new(0);
/// The sizes whose stacks are taken (`leak_probe_trace`); none at first.
static TRACE_MIN: AtomicUsize = AtomicUsize::new(usize::MAX);
static TRACE_MAX: AtomicUsize = AtomicUsize::new(0);
static TRACE_SEEN: AtomicUsize = AtomicUsize::new(0);
/// Set while the probe itself allocates (taking a stack does), so that it does not trace itself.
static BUSY: AtomicBool = AtomicBool::new(false);
/// The stacks of sampled traced blocks, by address, while they live.
static TRACED: Mutex<Vec<(usize, String)>> = Mutex::new(Vec::new());

fn class(size: usize) -> usize {
    size.div_ceil(4).min(CLASSES - 1)
}

fn allocated(p: *mut u8, size: usize) {
    LIVE[class(size)].fetch_add(1, Relaxed);
    LIVE_BYTES.fetch_add(size, Relaxed);
    if traced(size)
        && TRACE_SEEN.fetch_add(1, Relaxed).is_multiple_of(TRACE_ONE_IN)
        && !BUSY.swap(true, Relaxed)
    {
        let stack = js_sys::Reflect::get(&js_sys::Error::new(""), &"stack".into())
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or_default();
        if let Ok(mut kept) = TRACED.lock()
            && kept.len() < TRACED_MAX
        {
            kept.push((p as usize, stack));
        }
        BUSY.store(false, Relaxed);
    }
}

fn freed(p: *mut u8, size: usize) {
    LIVE[class(size)].fetch_sub(1, Relaxed);
    LIVE_BYTES.fetch_sub(size, Relaxed);
    if traced(size) && !BUSY.swap(true, Relaxed) {
        if let Ok(mut kept) = TRACED.lock()
            && let Some(i) = kept.iter().position(|(q, _)| *q == p as usize)
        {
            kept.swap_remove(i);
        }
        BUSY.store(false, Relaxed);
    }
}

fn traced(size: usize) -> bool {
    (TRACE_MIN.load(Relaxed)..=TRACE_MAX.load(Relaxed)).contains(&size)
}

struct Counting;

// SAFETY: every call is passed on to the system allocator unchanged; only counts are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            allocated(p, layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, passed on.
        unsafe { System.dealloc(p, layout) };
        freed(p, layout.size());
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract, passed on.
        let q = unsafe { System.realloc(p, layout, new_size) };
        if !q.is_null() {
            freed(p, layout.size());
            allocated(q, new_size);
        }
        q
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// `N bytes; size:blocks …` for every size class that holds blocks (a class is named by its
/// upper bound; `>512` holds every larger block).
#[wasm_bindgen]
pub fn leak_probe() -> String {
    let mut out = format!("{} bytes;", LIVE_BYTES.load(Relaxed));
    for (i, n) in LIVE.iter().enumerate() {
        let n = n.load(Relaxed);
        if n > 0 {
            let size = if i == CLASSES - 1 { ">512".to_string() } else { (i * 4).to_string() };
            out.push_str(&format!(" {size}:{n}"));
        }
    }
    out
}

/// From now on, keeps the JS stack of one in [`TRACE_ONE_IN`] blocks of `min..=max` bytes
/// while it lives.
#[wasm_bindgen]
pub fn leak_probe_trace(min: usize, max: usize) {
    TRACE_MIN.store(min, Relaxed);
    TRACE_MAX.store(max, Relaxed);
}

/// The stacks of the sampled blocks still alive, the most frequent first.
#[wasm_bindgen]
pub fn leak_probe_stacks() -> String {
    BUSY.store(true, Relaxed);
    let mut counts: HashMap<String, usize> = HashMap::new();
    if let Ok(kept) = TRACED.lock() {
        for (_, stack) in kept.iter() {
            *counts.entry(stack.clone()).or_default() += 1;
        }
    }
    let mut counts: Vec<_> = counts.into_iter().collect();
    counts.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let alive: usize = counts.iter().map(|(_, n)| n).sum();
    let mut out = format!(
        "{alive} sampled blocks of {}..={} bytes alive ({} allocated since tracing began)\n",
        TRACE_MIN.load(Relaxed),
        TRACE_MAX.load(Relaxed),
        TRACE_SEEN.load(Relaxed)
    );
    for (stack, n) in counts.iter().take(5) {
        out.push_str(&format!("=== {n} alive from\n{stack}\n"));
    }
    BUSY.store(false, Relaxed);
    out
}
