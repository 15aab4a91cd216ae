//! A keyed list for rows that come and go for as long as the page is open (the lines, who is
//! online): Leptos's `For`, except that a row's reactive owner is not a child of the list's.
//! `For` registers each row's owner with the owner around the list, which keeps an entry for
//! every row ever shown (and, through it, the row owner's allocation) until the list itself
//! goes: in a busy chat that is memory per line, forever, in a tab left open.

use std::hash::Hash;

use leptos::prelude::*;
use leptos::tachys::reactive_graph::OwnedView;
use leptos::tachys::view::keyed::keyed;

/// `<For each key children>` with detached row owners: a row's owner lives exactly as long as
/// its row (it is dropped with it, which cleans up its effects, memos and triggers).
pub fn keyed_list<T, I, K, V>(
    each: impl Fn() -> I + Send + 'static,
    key: impl Fn(&T) -> K + Send + Clone + 'static,
    row: impl Fn(T) -> V + Send + Clone + 'static,
) -> impl IntoView
where
    I: IntoIterator<Item = T> + Send + 'static,
    K: Eq + Hash + 'static,
    T: Send + 'static,
    V: IntoView + 'static,
{
    let view = move |_, item| {
        let owner = detached_owner();
        let view = owner.with(|| row(item));
        (drop, OwnedView::new_with_owner(view, owner))
    };
    move || keyed(each(), key.clone(), view.clone())
}

/// A new owner with no parent (Leptos makes the current owner the parent of a new one, and
/// only a server build has `Owner::new_root`).
fn detached_owner() -> Owner {
    let current = Owner::current();
    if let Some(current) = current.clone() {
        current.unset();
    }
    let owner = Owner::new();
    if let Some(current) = current {
        current.set();
    }
    owner
}
