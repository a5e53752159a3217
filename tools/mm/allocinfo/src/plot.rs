// SPDX-License-Identifier: GPL-2.0

//! `allocinfo plot`: a recorded session (`watch --record`) as an SVG chart
//! of its top call sites' bytes over time, drawn with `plotters`.

use crate::parse::Site;
use plotters::prelude::*;

/// The chart of `series` (see [`crate::report::series`]) as SVG text.
pub fn svg(series: &[(Site, Vec<(f64, i64)>)], title: &str) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| format!("plot: {e}");
    let t_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(t, _)| *t))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let b_max = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, b)| *b))
        .max()
        .unwrap_or(0)
        .max(1024);
    // Units the axis can read: KiB up to 10 MiB, MiB above.
    let (unit, div) = if b_max >= 10 << 20 {
        ("MiB", (1 << 20) as f64)
    } else {
        ("KiB", 1024.0)
    };
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (960, 540)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..t_max, 0f64..(b_max as f64 / div) * 1.05)
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .x_desc("seconds")
            .y_desc(unit)
            .draw()
            .map_err(|e| err(&e))?;
        for (i, (site, points)) in series.iter().enumerate() {
            let color = Palette99::pick(i).to_rgba();
            let label = format!("{}:{} {}", short_path(&site.file), site.line, site.function);
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|(t, b)| (*t, *b as f64 / div)),
                    color.stroke_width(2),
                ))
                .map_err(|e| err(&e))?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(out)
}

/// A path short enough for a legend: its last three components.
fn short_path(path: &str) -> &str {
    let cut = path.rmatch_indices('/').nth(2).map_or(0, |(i, _)| i + 1);
    &path[cut..]
}
