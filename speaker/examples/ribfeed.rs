// Temporary harness (not committed): 1M /32 through Rib::apply_update.
use ipnet::{IpNet, Ipv4Net};
use proto::bgp::*;
use speaker::policy::{ImportPolicy, PeerPolicy};
use speaker::rib::*;
use std::net::Ipv4Addr;
use std::time::Instant;

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let per_turn: usize = std::env::args()
        .nth(2)
        .and_then(|s| s.parse().ok())
        .unwrap_or(512);
    let mut best = f64::MAX;
    for _rep in 0..5 {
        let mut rib = Rib::new(RibConfig {
            local_asn: 65002,
            router_id: Ipv4Addr::new(10, 0, 0, 2),
        });
        let policy = PeerPolicy {
            import: Some(ImportPolicy {
                pools: vec!["100.64.0.0/10".parse().unwrap()],
                ..ImportPolicy::default()
            }),
            ..PeerPolicy::default()
        };
        let id = rib
            .add_peer(PeerConfig {
                address: "10.0.0.1".parse().unwrap(),
                asn: 65001,
                policy,
            })
            .unwrap();
        let _ = rib
            .session_up(
                id,
                SessionInfo::new(Ipv4Addr::new(10, 0, 0, 1), Context::modern()),
            )
            .unwrap();
        let attrs = vec![
            PathAttribute::new(AttributeValue::Origin(Origin::Igp)),
            PathAttribute::new(AttributeValue::AsPath(AsPath::sequence(vec![65001]))),
            PathAttribute::new(AttributeValue::NextHop(Ipv4Addr::new(10, 0, 0, 1))),
            PathAttribute::new(AttributeValue::Communities(vec![Community::new(65001, 1)])),
            PathAttribute::new(AttributeValue::ExtendedCommunities(vec![
                Mobility::new(1, false).to_extended(),
            ])),
        ];
        let shuffle = std::env::args().nth(3).is_some();
        let mut order: Vec<u32> = (0..n).collect();
        if shuffle {
            let mut x = 88172645463325252u64;
            for k in (1..order.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                order.swap(k, (x % (k as u64 + 1)) as usize);
            }
        }
        let mut updates = Vec::new();
        let mut i = 0u32;
        while i < n {
            let c = (n - i).min(807);
            let nlri = (i..i + c)
                .map(|k| {
                    Nlri::new(IpNet::V4(Ipv4Net::from(Ipv4Addr::from(
                        0x6440_0000 + order[k as usize],
                    ))))
                })
                .collect();
            updates.push(
                Message::Update(Update {
                    attributes: attrs.clone(),
                    nlri,
                    ..Update::default()
                })
                .to_bytes(&Context::modern())
                .unwrap(),
            );
            i += c;
        }
        let t = Instant::now();
        let mut changes = 0;
        for (k, b) in updates.iter().enumerate() {
            let d = Message::decode(b, &Context::modern()).unwrap();
            let Message::Update(update) = d.message else {
                panic!()
            };
            let u = DecodedUpdate {
                update,
                problems: d.problems,
            };
            rib.apply_update(id, &u).unwrap();
            if (k + 1) % per_turn == 0 {
                let c = rib.take_changes();
                changes += c.len();
                let _ = rib.export_all(&c);
            }
        }
        let c = rib.take_changes();
        changes += c.len();
        let _ = rib.export_all(&c);
        let e = t.elapsed();
        best = best.min(e.as_secs_f64());
        assert_eq!(changes, n as usize);
        assert_eq!(rib.len(), n as usize);
    }
    println!(
        "{n} routes: min {:.3} s, {:.0} routes/s",
        best,
        n as f64 / best
    );
}
