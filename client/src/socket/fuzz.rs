//! Property tests of the codec: no input makes it panic, and what it encodes it decodes.

use proptest::prelude::*;
use serde_json::Value;

use super::codec::{EngineIo, SocketIo};

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,20}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn decoding_anything_never_panics(frame in ".{0,200}") {
        let _ = EngineIo::decode(&frame);
        let _ = EngineIo::decode_payload(&frame);
        let _ = SocketIo::decode(&frame);
    }

    #[test]
    fn decoding_near_misses_never_panics(prefix in "[0-9/,]{0,6}", body in "[\\[\\]{}\",:0-9a-z]{0,40}") {
        let frame = format!("{prefix}{body}");
        let _ = SocketIo::decode(&frame);
        let _ = EngineIo::decode(&format!("4{frame}"));
    }

    #[test]
    fn events_and_acks_round_trip(name in ".{1,20}", args in prop::collection::vec(json_value(), 0..5), ack in proptest::option::of(0u64..1_000_000)) {
        let event = SocketIo::Event { name, args: args.clone(), ack };
        prop_assert_eq!(SocketIo::decode(&event.encode()).unwrap(), event);
        if let Some(id) = ack {
            let reply = SocketIo::Ack { id, args };
            prop_assert_eq!(SocketIo::decode(&reply.encode()).unwrap(), reply);
        }
    }
}
