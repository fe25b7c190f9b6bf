//! Tool-call reassembly: OpenAI-shaped chunks, parallel calls, broken and oversized input,
//! and a property test over arbitrary splits and interleavings.

use proptest::prelude::*;
use serde_json::json;

use super::*;

/// The `tool_calls` array of one streamed chunk, as a server sends it.
fn chunk(data: &str) -> Vec<ToolCallDelta> {
    let v: Value = serde_json::from_str(data).unwrap();
    serde_json::from_value(v["choices"][0]["delta"]["tool_calls"].clone()).unwrap()
}

fn feed(acc: &mut ToolCallAccumulator, deltas: &[ToolCallDelta]) {
    for d in deltas {
        acc.push(d);
    }
}

fn piece(index: u32, id: Option<&str>, name: Option<&str>, args: Option<&str>) -> ToolCallDelta {
    ToolCallDelta {
        index: Some(index),
        id: id.map(str::to_owned),
        function: Some(FunctionDelta { name: name.map(str::to_owned), arguments: args.map(str::to_owned) }),
    }
}

#[test]
fn one_call_split_across_openai_chunks() {
    let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
    assert!(acc.is_empty());
    for data in [
        r#"{"choices":[{"index":0,"delta":{"role":"assistant","content":null,"tool_calls":[{"index":0,"id":"call_abc","type":"function","function":{"name":"book_table","arguments":""}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"peo"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"ple\": 4, \"time\": \"19:"}}]}}]}"#,
        r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"30\", \"name\": \"Zo\u00eb\"}"}}]}}]}"#,
    ] {
        feed(&mut acc, &chunk(data));
    }
    let calls = acc.finish();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id, "call_abc");
    assert_eq!(calls[0].name, "book_table");
    assert_eq!(calls[0].arguments, Ok(json!({"people": 4, "time": "19:30", "name": "Zoë"})));
    assert_eq!(calls[0].arguments_for_history(), r#"{"name":"Zoë","people":4,"time":"19:30"}"#);
}

#[test]
fn parallel_calls_interleave_by_index_and_come_out_in_order() {
    let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
    feed(
        &mut acc,
        &[
            piece(1, Some("call_b"), Some("get_weather"), Some("{\"city\":")),
            piece(0, Some("call_a"), Some("get_time"), Some("{\"zone\":\"UT")),
            piece(1, None, None, Some("\"Oslo\"}")),
            piece(0, None, None, Some("C\"}")),
        ],
    );
    let calls = acc.finish();
    let got: Vec<_> = calls.iter().map(|c| (c.id.as_str(), c.name.as_str())).collect();
    assert_eq!(got, [("call_a", "get_time"), ("call_b", "get_weather")]);
    assert_eq!(calls[0].arguments, Ok(json!({"zone": "UTC"})));
    assert_eq!(calls[1].arguments, Ok(json!({"city": "Oslo"})));
}

#[test]
fn servers_that_omit_index_or_id_or_reuse_index_zero() {
    // No index at all: one call after another, told apart by id.
    let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
    let whole = |id: &str, name: &str, args: &str| ToolCallDelta {
        index: None,
        id: Some(id.into()),
        function: Some(FunctionDelta { name: Some(name.into()), arguments: Some(args.into()) }),
    };
    feed(&mut acc, &[whole("a", "one", "{}"), whole("b", "two", r#"{"x":1}"#)]);
    let calls = acc.finish();
    assert_eq!(calls.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(), ["one", "two"]);
    // Every call at index 0 with its own id.
    let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
    feed(&mut acc, &[piece(0, Some("a"), Some("one"), Some("{}")), piece(0, Some("b"), Some("two"), None)]);
    let calls = acc.finish();
    assert_eq!(calls.len(), 2);
    assert_eq!((calls[1].id.as_str(), &calls[1].arguments), ("b", &Ok(json!({}))));
    // No id: made up from the position, so the history still pairs call and result.
    let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
    feed(&mut acc, &[piece(0, None, Some("one"), None), piece(1, None, Some("two"), Some(""))]);
    let ids: Vec<_> = acc.finish().into_iter().map(|c| c.id).collect();
    assert_eq!(ids, ["call_0", "call_1"]);
}

#[test]
fn broken_calls_become_errors_not_crashes() {
    let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
    feed(
        &mut acc,
        &[
            piece(0, Some("a"), Some("book_table"), Some("{\"people\": 4")),
            piece(1, Some("b"), Some("book_table"), Some("[1, 2]")),
            piece(2, Some("c"), None, Some("{}")),
            piece(3, Some("d"), Some("drop table;"), Some("{}")),
            piece(4, Some("e"), Some("  list_menu "), Some("  ")),
        ],
    );
    let calls = acc.finish();
    assert!(matches!(calls[0].arguments, Err(CallError::MalformedJson(_))), "{:?}", calls[0]);
    assert_eq!(calls[0].arguments_for_history(), "{}");
    assert_eq!(calls[1].arguments, Err(CallError::NotAnObject));
    assert_eq!(calls[2].arguments, Err(CallError::MissingName));
    assert_eq!(calls[3].arguments, Err(CallError::BadName { max: 64 }));
    assert_eq!((calls[4].name.as_str(), &calls[4].arguments), ("list_menu", &Ok(json!({}))));
    // Every error reads as a sentence the LLM can act on.
    assert!(
        calls[0].arguments.as_ref().unwrap_err().to_string().starts_with("the arguments are not valid JSON")
    );
}

#[test]
fn huge_arguments_and_names_stay_bounded() {
    let limits = ToolCallLimits { max_calls: 8, max_name_bytes: 16, max_argument_bytes: 1024 };
    let mut acc = ToolCallAccumulator::new(limits);
    acc.push(&piece(0, Some("a"), Some("search"), Some("{\"q\":\"")));
    let block = "x".repeat(100);
    for _ in 0..10_000 {
        acc.push(&piece(0, None, None, Some(&block)));
    }
    acc.push(&piece(1, Some("b"), Some(&"n".repeat(10)), None));
    for _ in 0..1_000 {
        acc.push(&piece(1, None, Some("n"), None));
    }
    // Memory held is within the limits, whatever was sent.
    assert!(acc.calls.iter().all(|c| c.arguments.len() <= 1024 && c.name.len() <= 16));
    let calls = acc.finish();
    assert_eq!(calls[0].arguments, Err(CallError::ArgumentsTooLarge { limit: 1024 }));
    assert_eq!(calls[1].arguments, Err(CallError::BadName { max: 16 }));
}

#[test]
fn calls_beyond_the_limit_are_dropped_and_counted() {
    let limits = ToolCallLimits { max_calls: 2, ..ToolCallLimits::default() };
    let mut acc = ToolCallAccumulator::new(limits);
    for i in 0..5u32 {
        let id = format!("id{i}");
        acc.push(&piece(i, Some(&id), Some("f"), Some("{")));
        acc.push(&piece(i, None, None, Some("}")));
    }
    assert_eq!(acc.dropped(), 3);
    let calls = acc.finish();
    assert_eq!(calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["id0", "id1"]);
    assert!(calls.iter().all(|c| c.arguments == Ok(json!({}))));
}

#[test]
fn deltas_decode_from_every_shape_servers_send() {
    // llama.cpp and vLLM send `type` and `id` on the first piece; some send `null`s.
    let d = chunk(
        r#"{"choices":[{"delta":{"tool_calls":[{"index":0,"id":null,"type":"function","function":{"name":null,"arguments":"{}"}}]}}]}"#,
    );
    assert_eq!(d[0].id, None);
    assert_eq!(d[0].function.as_ref().and_then(|f| f.arguments.as_deref()), Some("{}"));
    let d = chunk(r#"{"choices":[{"delta":{"tool_calls":[{"function":{"name":"x"}}]}}]}"#);
    assert_eq!(d[0].index, None);
}

/// A call to stream: name, arguments object.
fn arb_call() -> impl Strategy<Value = (String, Value)> {
    let name = "[a-z_]{1,12}";
    let value = prop_oneof![
        any::<i64>().prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ];
    let args = prop::collection::btree_map("[a-z]{1,6}", value, 0..4)
        .prop_map(|m| Value::Object(m.into_iter().collect()));
    (name, args)
}

/// Cuts `text` at the given fractions (on character boundaries).
fn split(text: &str, cuts: &[f64]) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut at: Vec<usize> = cuts.iter().map(|f| (f * chars.len() as f64) as usize).collect();
    at.push(chars.len());
    at.sort_unstable();
    let mut out = Vec::new();
    let mut from = 0;
    for to in at {
        out.push(chars[from..to].iter().collect());
        from = to;
    }
    out
}

proptest! {
    /// However the arguments are cut and the parallel calls interleaved, the same calls come out.
    #[test]
    fn any_split_and_interleaving_reassembles(
        calls in prop::collection::vec(arb_call(), 1..5),
        cuts in prop::collection::vec(prop::collection::vec(0.0f64..1.0, 0..6), 5),
        order_seed in any::<u64>(),
    ) {
        // Per call, its pieces in order; the first one carries the id and the name.
        let mut queues: Vec<Vec<ToolCallDelta>> = calls.iter().enumerate().map(|(i, (name, args))| {
            let id = format!("call_{i}_x");
            let mut q = vec![piece(i as u32, Some(&id), Some(name), None)];
            q.extend(split(&args.to_string(), &cuts[i]).iter().map(|p| piece(i as u32, None, None, Some(p))));
            q
        }).collect();
        // Interleave: repeatedly take the next piece of a pseudo-randomly chosen call.
        let mut acc = ToolCallAccumulator::new(ToolCallLimits::default());
        let mut seed = order_seed;
        while queues.iter().any(|q| !q.is_empty()) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let open: Vec<usize> = (0..queues.len()).filter(|&i| !queues[i].is_empty()).collect();
            let i = open[(seed >> 33) as usize % open.len()];
            acc.push(&queues[i].remove(0));
        }
        let got = acc.finish();
        prop_assert_eq!(got.len(), calls.len());
        for (i, (call, (name, args))) in got.iter().zip(&calls).enumerate() {
            prop_assert_eq!(&call.id, &format!("call_{i}_x"));
            prop_assert_eq!(&call.name, name);
            prop_assert_eq!(call.arguments.as_ref(), Ok(args));
        }
    }

    /// Arbitrary junk never panics and never holds more than the limits.
    #[test]
    fn junk_never_panics_and_stays_bounded(
        deltas in prop::collection::vec(
            (prop::option::of(0u32..20), prop::option::of("\\PC{0,8}"), prop::option::of("\\PC{0,80}"), prop::option::of("\\PC{0,200}")),
            0..60,
        ),
    ) {
        let limits = ToolCallLimits { max_calls: 4, max_name_bytes: 24, max_argument_bytes: 256 };
        let mut acc = ToolCallAccumulator::new(limits);
        for (index, id, name, arguments) in deltas {
            acc.push(&ToolCallDelta { index, id, function: Some(FunctionDelta { name, arguments }) });
            prop_assert!(acc.calls.len() <= 4);
            prop_assert!(acc.calls.iter().all(|c| c.arguments.len() <= 256 && c.name.len() <= 24));
        }
        for call in acc.finish() {
            prop_assert!(!call.id.is_empty());
            if let Ok(v) = &call.arguments {
                prop_assert!(v.is_object());
            }
        }
    }
}
