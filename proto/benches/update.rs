//! Decode and encode of an UPDATE carrying 1,000 IPv4 /32 NLRI with the
//! attributes a hostroute advertisement has (ORIGIN, AS_PATH, NEXT_HOP, MED,
//! COMMUNITIES, the mobility extended community, a large community), in an
//! RFC 8654 extended message. rustbgpd-wire decodes the same bytes in the
//! same run, as an independent reference point.
//!
//! Run: `cargo bench -p hostroute-proto --bench update`

use std::hint::black_box;
use std::net::Ipv4Addr;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ipnet::Ipv4Net;
use proto::bgp::{
    AsPath, AttributeValue, Community, Context, LargeCommunity, Message, Mobility, Nlri, Origin,
    PathAttribute, Update,
};

const PREFIXES: u32 = 1000;

fn update() -> Update {
    let base = u32::from(Ipv4Addr::new(10, 0, 0, 0));
    let nlri = (0..PREFIXES)
        .map(|i| Nlri::new(Ipv4Net::new_assert(Ipv4Addr::from(base + i * 7), 32).into()))
        .collect();
    let attributes = vec![
        AttributeValue::Origin(Origin::Igp),
        AttributeValue::AsPath(AsPath::sequence(vec![65001, 4_200_000_001])),
        AttributeValue::NextHop(Ipv4Addr::new(192, 0, 2, 1)),
        AttributeValue::MultiExitDisc(10),
        AttributeValue::Communities(vec![Community::new(65001, 100), Community::new(65001, 200)]),
        AttributeValue::ExtendedCommunities(vec![Mobility::new(7, false).to_extended()]),
        AttributeValue::LargeCommunities(vec![LargeCommunity::new(4_200_000_001, 1, 2)]),
    ]
    .into_iter()
    .map(PathAttribute::new)
    .collect();
    Update {
        withdrawn: Vec::new(),
        attributes,
        nlri,
    }
}

fn ctx() -> Context {
    Context {
        max_message_len: 65535,
        ..Context::modern()
    }
}

fn bench(c: &mut Criterion) {
    let ctx = ctx();
    let u = update();
    let mut wire = Vec::new();
    u.emit(&ctx, &mut wire).expect("fits an extended message");
    eprintln!(
        "update: {} NLRI, {} bytes on the wire; reproduce with `cargo bench -p hostroute-proto --bench update`",
        PREFIXES,
        wire.len()
    );

    for (unit, throughput) in [
        ("prefixes", Throughput::Elements(u64::from(PREFIXES))),
        ("bytes", Throughput::Bytes(wire.len() as u64)),
    ] {
        let mut g = c.benchmark_group(format!("update_1000_host_routes/{unit}"));
        g.throughput(throughput);
        g.bench_function("hostroute_decode", |b| {
            b.iter(|| {
                // The whole message, header checks included, as rustbgpd-wire below.
                let d = Message::decode(black_box(&wire), &ctx).expect("valid");
                let Message::Update(u) = &d.message else {
                    unreachable!()
                };
                assert_eq!(u.nlri.len(), PREFIXES as usize);
                d
            })
        });
        let mut out = Vec::with_capacity(wire.len());
        g.bench_function("hostroute_encode", |b| {
            b.iter(|| {
                out.clear();
                black_box(&u).emit(&ctx, &mut out).expect("fits");
                out.len()
            })
        });
        g.bench_function("rustbgpd_wire_decode", |b| {
            b.iter(|| {
                let mut buf = bytes::Bytes::copy_from_slice(black_box(&wire));
                let msg = rustbgpd_wire::decode_message(&mut buf, 65535).expect("valid");
                let rustbgpd_wire::Message::Update(up) = msg else {
                    unreachable!()
                };
                let parsed = up.parse_revised(true, false, false, &[]).expect("valid");
                assert_eq!(parsed.update.announced.len(), PREFIXES as usize);
                parsed
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
