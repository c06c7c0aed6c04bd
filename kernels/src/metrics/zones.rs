//! Polygons in frame coordinates: motion masks and named zones, parsed from
//! the command line and rasterised onto the motion detector's small grid.
//!
//! A small-grid pixel belongs to a polygon when its centre, mapped back to
//! frame coordinates, lies inside the polygon (even-odd rule). Frigate instead
//! draws masks at full size and shrinks them with `INTER_AREA`, masking only
//! small pixels whose whole area is masked; the centre rule is simpler, needs
//! no full-size image, and differs only along a polygon's edges.

/// A closed polygon, its vertices in frame pixel coordinates.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    /// The vertices `(x, y)`, at least three; the last joins the first.
    pub points: Vec<(f64, f64)>,
}

/// A named polygon that gets its own motion ratio.
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    /// The zone's name, as records report it.
    pub name: String,
    /// Its area.
    pub polygon: Polygon,
}

impl Polygon {
    /// Parses `x1,y1,x2,y2,...`: at least three points, finite numbers.
    ///
    /// # Errors
    /// A message naming the problem: an odd count of numbers, fewer than three
    /// points, or an entry that is not a finite number.
    pub fn parse(list: &str) -> Result<Polygon, String> {
        let mut numbers = Vec::new();
        for (i, item) in list.split(',').enumerate() {
            let item = item.trim();
            match item.parse::<f64>() {
                Ok(v) if v.is_finite() => numbers.push(v),
                _ => {
                    return Err(format!(
                        "polygon \"{list}\": entry {} (\"{item}\") is not a number",
                        i + 1
                    ));
                }
            }
        }
        if numbers.len() % 2 != 0 {
            return Err(format!(
                "polygon \"{list}\": {} numbers do not make x,y pairs",
                numbers.len()
            ));
        }
        if numbers.len() < 6 {
            return Err(format!(
                "polygon \"{list}\": needs at least 3 points (x1,y1,x2,y2,x3,y3), got {}",
                numbers.len() / 2
            ));
        }
        Ok(Polygon {
            points: numbers.chunks_exact(2).map(|p| (p[0], p[1])).collect(),
        })
    }

    /// Whether `(x, y)` lies inside (even-odd rule; points exactly on an edge
    /// may fall either way).
    pub fn contains(&self, x: f64, y: f64) -> bool {
        let mut inside = false;
        let n = self.points.len();
        for i in 0..n {
            let (xi, yi) = self.points[i];
            let (xj, yj) = self.points[(i + n - 1) % n];
            if (yi > y) != (yj > y) && x < (xj - xi) * (y - yi) / (yj - yi) + xi {
                inside = !inside;
            }
        }
        inside
    }

    /// Marks in `grid` (a `small_w` x `small_h` image, row by row) the small
    /// pixels whose centre lies inside, for a frame of `frame_w` x `frame_h`;
    /// returns how many were marked.
    pub fn rasterise(
        &self,
        (frame_w, frame_h): (u32, u32),
        (small_w, small_h): (u32, u32),
        grid: &mut [bool],
    ) -> u32 {
        let sx = f64::from(frame_w) / f64::from(small_w.max(1));
        let sy = f64::from(frame_h) / f64::from(small_h.max(1));
        let mut marked = 0;
        for y in 0..small_h as usize {
            let fy = (y as f64 + 0.5) * sy;
            for x in 0..small_w as usize {
                let fx = (x as f64 + 0.5) * sx;
                if let Some(cell) = grid.get_mut(y * small_w as usize + x)
                    && self.contains(fx, fy)
                {
                    *cell = true;
                    marked += 1;
                }
            }
        }
        marked
    }
}

/// Area below which a polygon counts as having none, in square pixels: far
/// below anything a zone can mean, far above float rounding on collinear
/// points.
pub const MIN_AREA: f64 = 1e-6;

impl Polygon {
    /// The area the polygon covers (even-odd rule, as [`Polygon::contains`]),
    /// in square pixels; 0 when its points lie on one line.
    pub fn area(&self) -> f64 {
        self.area_within(
            (f64::NEG_INFINITY, f64::INFINITY),
            (f64::NEG_INFINITY, f64::INFINITY),
        )
    }

    /// The area the polygon covers (even-odd rule) inside the rectangle
    /// `xs.0..xs.1` by `ys.0..ys.1`, in square pixels; a bound may be
    /// infinite. A frame of `w` x `h` is `(0, w)` by `(0, h)`.
    ///
    /// Exact up to float rounding: the plane is cut into horizontal slabs at
    /// every vertex, every crossing of two edges and every crossing of an
    /// edge with the rectangle's sides, so that inside a slab each covered
    /// span's width is linear in y and its mean is its width at mid-height.
    pub fn area_within(&self, xs: (f64, f64), ys: (f64, f64)) -> f64 {
        let n = self.points.len();
        if n < 3 || !(xs.0 < xs.1 && ys.0 < ys.1) {
            return 0.0;
        }
        let edges: Vec<((f64, f64), (f64, f64))> = (0..n)
            .map(|i| (self.points[i], self.points[(i + 1) % n]))
            .filter(|(a, b)| a.1 != b.1)
            .collect();
        let mut cuts: Vec<f64> = self.points.iter().map(|p| p.1).collect();
        for (i, &(p, q)) in edges.iter().enumerate() {
            for &side in [xs.0, xs.1].iter().filter(|x| x.is_finite()) {
                if (p.0 - side) * (q.0 - side) < 0.0 {
                    cuts.push(p.1 + (side - p.0) * (q.1 - p.1) / (q.0 - p.0));
                }
            }
            for &(r, s) in &edges[i + 1..] {
                if let Some(y) = crossing_y((p, q), (r, s)) {
                    cuts.push(y);
                }
            }
        }
        let cuts: Vec<f64> = {
            let mut c: Vec<f64> = cuts
                .into_iter()
                .filter(|y| y.is_finite())
                .map(|y| y.clamp(ys.0, ys.1))
                .collect();
            c.sort_by(f64::total_cmp);
            c.dedup();
            c
        };
        let mut area = 0.0;
        let mut at = Vec::new();
        for slab in cuts.windows(2) {
            let (lo, hi) = (slab[0], slab[1]);
            let mid = (lo + hi) / 2.0;
            at.clear();
            at.extend(
                edges
                    .iter()
                    .filter(|(p, q)| (p.1 > mid) != (q.1 > mid))
                    .map(|(p, q)| p.0 + (mid - p.1) * (q.0 - p.0) / (q.1 - p.1)),
            );
            at.sort_by(f64::total_cmp);
            let width: f64 = at
                .chunks_exact(2)
                .map(|span| span[1].clamp(xs.0, xs.1) - span[0].clamp(xs.0, xs.1))
                .sum();
            area += width * (hi - lo);
        }
        area
    }
}

/// The y at which segments `a` and `b` cross, when they do at one point.
fn crossing_y(a: ((f64, f64), (f64, f64)), b: ((f64, f64), (f64, f64))) -> Option<f64> {
    let (p, q) = a;
    let (r, s) = b;
    let (dx1, dy1) = (q.0 - p.0, q.1 - p.1);
    let (dx2, dy2) = (s.0 - r.0, s.1 - r.1);
    let denom = dx1 * dy2 - dy1 * dx2;
    if denom == 0.0 {
        return None;
    }
    let (ex, ey) = (r.0 - p.0, r.1 - p.1);
    let t = (ex * dy2 - ey * dx2) / denom;
    let u = (ex * dy1 - ey * dx1) / denom;
    ((0.0..=1.0).contains(&t) && (0.0..=1.0).contains(&u)).then_some(p.1 + t * dy1)
}

impl Zone {
    /// Parses `name:x1,y1,x2,y2,...`.
    ///
    /// # Errors
    /// A message when the `:` is missing, the name is empty, or the polygon
    /// does not parse (see [`Polygon::parse`]).
    pub fn parse(spec: &str) -> Result<Zone, String> {
        let Some((name, list)) = spec.split_once(':') else {
            return Err(format!(
                "zone \"{spec}\": expected name:x1,y1,x2,y2,x3,y3,..."
            ));
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(format!("zone \"{spec}\": the name is empty"));
        }
        let polygon = Polygon::parse(list).map_err(|e| format!("zone \"{name}\": {e}"))?;
        Ok(Zone {
            name: name.to_owned(),
            polygon,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_polygons_and_zones() {
        let p = Polygon::parse("0,0, 10,0,10,5.5").unwrap();
        assert_eq!(p.points, vec![(0.0, 0.0), (10.0, 0.0), (10.0, 5.5)]);
        let z = Zone::parse("door:1,2,3,4,5,6").unwrap();
        assert_eq!(z.name, "door");
        assert_eq!(z.polygon.points.len(), 3);
    }

    #[test]
    fn bad_polygons_say_why() {
        let e = Polygon::parse("0,0,1,1").unwrap_err();
        assert!(e.contains("at least 3 points"), "{e}");
        let e = Polygon::parse("0,0,1,x,2,2").unwrap_err();
        assert!(e.contains("entry 4 (\"x\") is not a number"), "{e}");
        let e = Polygon::parse("0,0,1,1,2").unwrap_err();
        assert!(e.contains("x,y pairs"), "{e}");
        assert!(Polygon::parse("0,0,1,1,nan,2").is_err());
        let e = Zone::parse(":0,0,1,0,1,1").unwrap_err();
        assert!(e.contains("name is empty"), "{e}");
        let e = Zone::parse("0,0,1,0,1,1").unwrap_err();
        assert!(e.contains("expected name:"), "{e}");
        let e = Zone::parse("door:0,0").unwrap_err();
        assert!(e.starts_with("zone \"door\":"), "{e}");
    }

    #[test]
    fn point_in_polygon() {
        let square = Polygon::parse("10,10,20,10,20,20,10,20").unwrap();
        assert!(square.contains(15.0, 15.0));
        assert!(!square.contains(5.0, 15.0));
        assert!(!square.contains(25.0, 15.0));
        // A concave "U": the notch is outside.
        let u = Polygon::parse("0,0,30,0,30,30,20,30,20,10,10,10,10,30,0,30").unwrap();
        assert!(u.contains(5.0, 20.0));
        assert!(!u.contains(15.0, 20.0));
        assert!(u.contains(15.0, 5.0));
    }

    #[test]
    fn areas_follow_the_even_odd_rule() {
        let all = (f64::NEG_INFINITY, f64::INFINITY);
        let area = |list: &str| Polygon::parse(list).unwrap().area();
        assert_eq!(area("10,10,20,10,20,20,10,20"), 100.0);
        assert_eq!(area("0,0,10,0,0,10"), 50.0);
        // The concave "U": 30x30 less its 10x20 notch.
        assert_eq!(area("0,0,30,0,30,30,20,30,20,10,10,10,10,30,0,30"), 700.0);
        // A bow tie crossing at its mid-height: two triangles of 25.
        assert!((area("0,0,10,10,10,0,0,10") - 50.0).abs() < 1e-9);
        // No area: points on one line, or a path that doubles back.
        assert!(area("0,0,5,5,10,10") < MIN_AREA);
        assert!(area("0,0,10,0,20,0") < MIN_AREA);
        assert!(area("0,0,10,0,10,10,10,0") < MIN_AREA);
        assert!(area("0.1,0.3,0.2,0.6,0.7,2.1") < MIN_AREA);

        let square = Polygon::parse("-10,-10,10,-10,10,10,-10,10").unwrap();
        assert_eq!(square.area_within((0.0, 100.0), (0.0, 100.0)), 100.0);
        assert_eq!(square.area_within((0.0, 5.0), (0.0, 5.0)), 25.0);
        assert_eq!(square.area_within((20.0, 30.0), all), 0.0);
        assert_eq!(square.area_within((0.0, 0.0), all), 0.0);
        // A diamond whose edges cross the rectangle's sides mid-slab.
        let diamond = Polygon::parse("0,-10,10,0,0,10,-10,0").unwrap();
        assert!((diamond.area_within((0.0, 100.0), all) - 100.0).abs() < 1e-9);
        assert!((diamond.area_within((5.0, 100.0), all) - 25.0).abs() < 1e-9);
        // A triangle inside the frame's bounding box but past its corner.
        let corner = Polygon::parse("35,25,45,25,45,15").unwrap();
        assert_eq!(corner.area_within((0.0, 40.0), (0.0, 20.0)), 0.0);
        assert!(corner.area_within((0.0, 44.0), (0.0, 20.0)) > 0.0);
    }

    #[test]
    fn rasterises_at_pixel_centres() {
        // Frame 40x20 on a 4x2 grid: each small pixel is 10x10, centres at
        // x = 5, 15, 25, 35 and y = 5, 15.
        let p = Polygon::parse("0,0,20,0,20,10,0,10").unwrap();
        let mut grid = vec![false; 8];
        assert_eq!(p.rasterise((40, 20), (4, 2), &mut grid), 2);
        assert_eq!(grid, [true, true, false, false, false, false, false, false]);
    }
}
