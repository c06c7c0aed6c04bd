//! Scratch probe (temporary).
#![expect(missing_docs, clippy::unwrap_used, reason = "scratch")]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args[1] == "gen" {
        let spec = osprey_video::ClipSpec { width: args[3].parse().unwrap(), height: args[4].parse().unwrap(), fps: 25, frames: args[5].parse().unwrap(), cut_every: 10 };
        let t = std::time::Instant::now();
        osprey_video::generate_clip(std::path::Path::new(&args[2]), &spec).unwrap();
        eprintln!("gen {:?}", t.elapsed());
        return;
    }
    let t = std::time::Instant::now();
    let mut d = match osprey_video::Decoder::open(&args[1], Default::default()) { Ok(d) => d, Err(e) => { eprintln!("open err after {:?}: {e}", t.elapsed()); return; } };
    eprintln!("open {:?} info {:?} fps {:?} dur {:?}", t.elapsed(), d.info(), d.frame_rate(), d.duration());
    loop {
        match d.next_chunk() {
            Ok(Some(c)) => {
                let v = c.views();
                let f = &v[0];
                eprintln!("chunk {} strides {:?} lens {:?} pts {:?}", c.len(), (0..3).map(|p| f.plane(p).stride).collect::<Vec<_>>(), (0..3).map(|p| f.plane(p).data.len()).collect::<Vec<_>>(), c.metas().iter().map(|m| (m.index, m.pts)).collect::<Vec<_>>());
            }
            Ok(None) => break,
            Err(e) => { eprintln!("err {e}"); break; }
        }
    }
    eprintln!("total {:?}", t.elapsed());
}
