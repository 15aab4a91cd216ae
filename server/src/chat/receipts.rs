//! Receipts for bulky answers: a connection may have at most `UNRECEIVED_ANSWERS_MAX` history
//! pages and lists (and `UNRECEIVED_BYTES_MAX` of them) on their way before it sends their
//! receipts back (`received`), so that one that never reads cannot make the server queue more
//! (its outgoing queue counts packets, not bytes, and delivers in order: a receipt proves
//! everything before it was read).

use std::sync::{Arc, Mutex, MutexGuard};

use chat_shared::limits::{UNRECEIVED_ANSWERS_MAX, UNRECEIVED_BYTES_MAX};
use chat_shared::protocol::{ClientEvent, Receipt};
use chat_shared::{ChatError, ErrorCode};
use serde::Serialize;

use super::Chat;
use super::incoming::Incoming;
use super::session::Session;

/// A connection's bulky answers on their way: reserved (being read or written) and sent (their
/// receipts not back yet, with their sizes).
#[derive(Default)]
pub struct Unreceived(Mutex<Slots>);

#[derive(Default)]
struct Slots {
    reserved: usize,
    sent: Vec<(Receipt, usize)>,
    sent_bytes: usize,
}

fn too_many() -> ChatError {
    ChatError::with_limit(ErrorCode::TooManyUnreceived, UNRECEIVED_ANSWERS_MAX)
}

impl Unreceived {
    /// A place for one more answer, or `too_many_unreceived` (with the limit).
    fn reserve(&self) -> Result<(), ChatError> {
        let mut slots = self.slots();
        if slots.reserved + slots.sent.len() >= UNRECEIVED_ANSWERS_MAX
            || slots.sent_bytes >= UNRECEIVED_BYTES_MAX
        {
            return Err(too_many());
        }
        slots.reserved += 1;
        Ok(())
    }

    /// A reserved answer of `bytes` goes out with `receipt`, unless the unreceived ones and it
    /// would pass the byte limit (one always goes when none is unreceived).
    fn send(&self, receipt: Receipt, bytes: usize) -> Result<(), ChatError> {
        let mut slots = self.slots();
        slots.reserved = slots.reserved.saturating_sub(1);
        if !slots.sent.is_empty() && slots.sent_bytes + bytes > UNRECEIVED_BYTES_MAX {
            return Err(too_many());
        }
        slots.sent.push((receipt, bytes));
        slots.sent_bytes += bytes;
        Ok(())
    }

    /// A reserved answer went out without a receipt (a refusal) or not at all.
    fn cancelled(&self) {
        let mut slots = self.slots();
        slots.reserved = slots.reserved.saturating_sub(1);
    }

    /// The client has the answer with `receipt` (false if no answer on its way has it).
    pub fn received(&self, receipt: Receipt) -> bool {
        let mut slots = self.slots();
        let Some(at) = slots.sent.iter().position(|(r, _)| *r == receipt) else { return false };
        let (_, bytes) = slots.sent.swap_remove(at);
        slots.sent_bytes -= bytes;
        true
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        // Counters and a short list: a poisoned lock is still consistent.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// One reserved place for a bulky answer: [`Slot::send`] gives it a receipt; dropped unused
/// (a refusal, a handler that never answered), the place is free again.
pub struct Slot {
    session: Arc<Session>,
    used: bool,
}

impl Slot {
    /// Reserves a place for `session`'s next bulky answer.
    pub fn reserve(session: &Arc<Session>) -> Result<Self, ChatError> {
        session.unreceived.reserve()?;
        Ok(Self { session: session.clone(), used: false })
    }

    /// The receipt for `answer`, about to go out; refused if it would pass the byte limit, or
    /// `unavailable` without randomness (a guessable receipt would lift the limit).
    pub fn send<T: Serialize>(mut self, answer: &T) -> Result<Sent, ChatError> {
        let receipt = random_receipt().ok_or_else(|| ChatError::new(ErrorCode::Unavailable))?;
        self.used = true;
        if let Err(refusal) = self.session.unreceived.send(receipt, json_bytes(answer)) {
            // Counted towards the flood rule, as the refusal before the read is.
            self.session.count_refusal();
            return Err(refusal);
        }
        Ok(Sent { session: self.session.clone(), receipt })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.used {
            self.session.unreceived.cancelled();
        }
    }
}

/// A bulky answer counted as on its way, with its receipt.
pub struct Sent {
    session: Arc<Session>,
    pub receipt: Receipt,
}

impl Sent {
    /// It could not be queued after all (the connection is being closed): not on its way.
    pub fn failed(self) {
        self.session.unreceived.received(self.receipt);
    }
}

/// The length of `value` as JSON (the answer is written once more by socketioxide: bulky
/// answers are a few per second at most).
fn json_bytes<T: Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter fails only if the value cannot be serialised: socketioxide will say so.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn random_receipt() -> Option<Receipt> {
    let mut bytes = [0u8; 8];
    if let Err(e) = getrandom::fill(&mut bytes) {
        tracing::error!("no randomness for a receipt: {e}");
        return None;
    }
    Some(Receipt(u64::from_le_bytes(bytes) % Receipt::BOUND))
}

/// `received` (receipt, ack?): the client has a bulky answer. An unknown receipt (made up,
/// sent twice, or another connection's) is refused `bad_payload` (by a `chat error` without an
/// ack), counted towards the flood rule as other refusals are.
pub fn handle(_chat: &Chat, mut req: Incoming) {
    let Some(session) = req.session() else { return };
    // Read as a number: `Receipt`, a newtype, was refused by socketioxide's argument reader.
    let known = req.arg::<u64>().ok().is_some_and(|n| session.unreceived.received(Receipt(n)));
    let result = match known {
        true => Ok(()),
        false => {
            session.count_refusal();
            Err(ChatError::new(ErrorCode::BadPayload))
        }
    };
    req.reply().answer(ClientEvent::Received, result);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_limit_a_place_is_refused_until_a_receipt_comes_back() {
        let unreceived = Unreceived::default();
        for n in 0..UNRECEIVED_ANSWERS_MAX {
            unreceived.reserve().expect("within the limit");
            unreceived.send(Receipt(n as u64), 10).expect("small");
        }
        let refused = unreceived.reserve().expect_err("past the limit");
        assert_eq!(refused.code, ErrorCode::TooManyUnreceived);
        assert_eq!(refused.limit, Some(UNRECEIVED_ANSWERS_MAX as u64));
        assert!(!unreceived.received(Receipt(99)), "an unknown receipt frees nothing");
        assert!(unreceived.reserve().is_err());
        assert!(unreceived.received(Receipt(3)));
        assert!(!unreceived.received(Receipt(3)), "a receipt counts once");
        unreceived.reserve().expect("a place again");
        assert!(unreceived.reserve().is_err(), "and only one");
    }

    #[test]
    fn reserved_places_count_until_sent_or_cancelled() {
        let unreceived = Unreceived::default();
        for _ in 0..UNRECEIVED_ANSWERS_MAX {
            unreceived.reserve().expect("within the limit");
        }
        assert!(unreceived.reserve().is_err(), "answers being read count");
        unreceived.cancelled();
        unreceived.reserve().expect("a refusal frees its place");
    }

    #[test]
    fn past_the_bytes_an_answer_is_refused_but_one_always_goes() {
        let unreceived = Unreceived::default();
        unreceived.reserve().expect("a place");
        unreceived.send(Receipt(1), 3 * UNRECEIVED_BYTES_MAX).expect("one goes, however large");
        assert!(unreceived.reserve().is_err(), "nothing more while it is unreceived");
        assert!(unreceived.received(Receipt(1)));
        for n in 0..4 {
            unreceived.reserve().expect("a place");
            unreceived.send(Receipt(10 + n), UNRECEIVED_BYTES_MAX / 4).expect("within the bytes");
        }
        assert!(unreceived.reserve().is_err(), "the bytes are full");
        assert!(unreceived.received(Receipt(10)));
        unreceived.reserve().expect("a place");
        let refused =
            unreceived.send(Receipt(20), UNRECEIVED_BYTES_MAX / 4 + 1).expect_err("one byte too many");
        assert_eq!(refused.code, ErrorCode::TooManyUnreceived);
        unreceived.reserve().expect("the refused answer freed its place");
        unreceived.send(Receipt(21), UNRECEIVED_BYTES_MAX / 4).expect("exactly full");
    }

    #[test]
    fn receipts_are_exact_in_a_javascript_number_and_differ() {
        let a = random_receipt().expect("randomness");
        let b = random_receipt().expect("randomness");
        assert!(a.0 < Receipt::BOUND && b.0 < Receipt::BOUND);
        assert_ne!(a, b);
    }

    #[test]
    fn an_answer_is_counted_as_its_json() {
        assert_eq!(json_bytes(&serde_json::json!({"a": "é"})), r#"{"a":"é"}"#.len());
    }
}
