//! The GNSS track drawn as an SVG path, with times along it. There are no map tiles (a force
//! network has no internet, and a tile server would learn where every incident was): the shape
//! of the route, its start and end, and the times are what an investigator reads off it.

use crate::catalogue::GnssPoint;

const WIDTH: f64 = 400.0;
const HEIGHT: f64 = 300.0;
const MARGIN: f64 = 24.0;
/// Labelled points along the route, besides its ends.
const MARKS: usize = 4;

pub struct Mark {
    pub x: String,
    pub y: String,
    pub label: String,
}

pub struct Track {
    /// The SVG path's `d`.
    pub path: String,
    pub marks: Vec<Mark>,
    /// Every point, for the table beside the drawing.
    pub rows: Vec<(String, String, String)>,
}

/// A point's time as the camera gave it: the clock time, or time since the recording began;
/// nothing when it gave neither (a guess would mislead more than a gap).
fn time_of(p: &GnssPoint) -> String {
    match (p.at, p.seconds_from_start) {
        (Some(at), _) => at.format("%H:%M:%S").to_string(),
        (None, Some(s)) => format!("+{}", super::view::clock(s)),
        (None, None) => String::new(),
    }
}

/// The drawing of `points`; None when there are none.
pub fn draw(points: &[GnssPoint]) -> Option<Track> {
    let first = points.first()?;
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    // Longitude shrinks with latitude; scaled by the cosine at the route's middle, the shape is
    // true at any scale a street incident spans.
    let mid_lat = points.iter().map(|p| p.latitude).sum::<f64>() / points.len() as f64;
    let squeeze = mid_lat.to_radians().cos().abs().max(0.01);
    for p in points {
        let x = p.longitude * squeeze;
        min_x = min_x.min(x);
        max_x = max_x.max(x);
        min_y = min_y.min(p.latitude);
        max_y = max_y.max(p.latitude);
    }
    let span = (max_x - min_x).max(max_y - min_y).max(1e-9);
    let scale = (WIDTH.min(HEIGHT) - 2.0 * MARGIN) / span;
    let at = |p: &GnssPoint| {
        (
            MARGIN + (p.longitude * squeeze - min_x) * scale,
            MARGIN + (max_y - p.latitude) * scale,
        )
    };
    let mut path = String::new();
    for (i, p) in points.iter().enumerate() {
        let (x, y) = at(p);
        path.push_str(&format!("{}{x:.1} {y:.1} ", if i == 0 { "M" } else { "L" }));
    }
    if points.len() == 1 {
        let (x, y) = at(first);
        path.push_str(&format!("L{:.1} {y:.1}", x + 0.1));
    }
    let step = (points.len() / (MARKS + 1)).max(1);
    let mut marks: Vec<Mark> = points
        .iter()
        .enumerate()
        .filter(|(i, _)| *i == 0 || *i == points.len() - 1 || i % step == 0)
        .map(|(i, p)| {
            let (x, y) = at(p);
            let what = if i == 0 {
                "start "
            } else if i == points.len() - 1 {
                "end "
            } else {
                ""
            };
            Mark {
                x: format!("{x:.1}"),
                y: format!("{y:.1}"),
                label: format!("{what}{}", time_of(p)).trim_end().to_owned(),
            }
        })
        .collect();
    marks.dedup_by(|a, b| a.x == b.x && a.y == b.y);
    Some(Track {
        path: path.trim_end().to_owned(),
        marks,
        rows: points
            .iter()
            .map(|p| {
                (
                    time_of(p),
                    format!("{:.6}", p.latitude),
                    format!("{:.6}", p.longitude),
                )
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(lon: f64, lat: f64, s: f64) -> GnssPoint {
        GnssPoint {
            longitude: lon,
            latitude: lat,
            seconds_from_start: Some(s),
            at: None,
        }
    }

    #[test]
    fn a_route_fits_the_drawing_north_up() {
        let t = draw(&[point(-1.90, 52.48, 0.0), point(-1.89, 52.49, 30.0)]).unwrap();
        // West to east is left to right; south to north is bottom to top.
        assert!(t.path.starts_with("M24.0 "), "{}", t.path);
        let coords: Vec<f64> = t
            .path
            .split(['M', 'L', ' '])
            .filter_map(|n| n.parse().ok())
            .collect();
        assert!(coords[2] > coords[0] && coords[3] < coords[1], "{coords:?}");
        assert!(coords.iter().all(|c| (0.0..=HEIGHT).contains(c)));
        assert_eq!(t.marks.first().unwrap().label, "start +0:00");
        assert_eq!(t.marks.last().unwrap().label, "end +0:30");
    }

    #[test]
    fn no_points_no_drawing_and_one_point_is_a_dot() {
        assert!(draw(&[]).is_none());
        let t = draw(&[point(0.0, 51.5, 0.0)]).unwrap();
        assert!(t.path.contains('L'));
    }
}
