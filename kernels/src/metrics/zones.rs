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
#[expect(clippy::unwrap_used, reason = "tests unwrap known-good literals")]
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
    fn rasterises_at_pixel_centres() {
        // Frame 40x20 on a 4x2 grid: each small pixel is 10x10, centres at
        // x = 5, 15, 25, 35 and y = 5, 15.
        let p = Polygon::parse("0,0,20,0,20,10,0,10").unwrap();
        let mut grid = vec![false; 8];
        assert_eq!(p.rasterise((40, 20), (4, 2), &mut grid), 2);
        assert_eq!(grid, [true, true, false, false, false, false, false, false]);
    }
}
