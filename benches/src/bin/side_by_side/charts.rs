//! PNG charts of the report: requests/s and CPU per request by scenario, p99 latency by rate;
//! grouped bars, one colour per proxy. Text needs a TrueType font: DejaVu Sans (Debian's
//! `fonts-dejavu-core`); without it the report goes out without charts, and says why.

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;
use plotters::style::{FontStyle, register_font};

use crate::peers::{self, PEERS, Peer};
use crate::results::{Results, Throughput};
use crate::scenarios::SCENARIOS;

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Draws every chart into `out`; (title, file name) of each.
pub fn draw(results: &Results, out: &Path) -> anyhow::Result<Vec<(String, String)>> {
    let Ok(font) = std::fs::read(FONT) else {
        eprintln!("no charts: {FONT} is missing (apt-get install fonts-dejavu-core)");
        return Ok(Vec::new());
    };
    // plotters keeps registered fonts for the life of the process.
    let font: &'static [u8] = Box::leak(font.into_boxed_slice());
    register_font("sans-serif", FontStyle::Normal, font)
        .map_err(|_| anyhow::anyhow!("{FONT} is not a font plotters can read"))?;
    let scenarios: Vec<String> = SCENARIOS.iter().map(|s| s.short.to_string()).collect();
    let mut charts = Vec::new();

    let series = by_scenario(results, PEERS.iter(), |t| Some(t.rps));
    let file = "side-by-side-requests.png";
    grouped_bars(
        &out.join(file),
        "Maximum requests/s (closed loop, one core)",
        "requests/s",
        &scenarios,
        series,
    )?;
    charts.push(("Maximum requests/s".to_string(), file.to_string()));

    // Direct has no proxy CPU.
    let series = by_scenario(results, peers::proxies(), |t| t.cpu_us);
    let file = "side-by-side-cpu.png";
    grouped_bars(
        &out.join(file),
        "Proxy CPU per request (lower is better)",
        "µs of CPU per request",
        &scenarios,
        series,
    )?;
    charts.push(("Proxy CPU per request".to_string(), file.to_string()));

    if let Some(points) = results.latency.values().next() {
        let rates: Vec<u32> = points.iter().map(|p| p.rate).collect();
        let labels: Vec<String> = rates.iter().map(|r| format!("{r} requests/s")).collect();
        let series = results
            .latency
            .iter()
            .map(|(proxy, points)| {
                let values = rates
                    .iter()
                    .map(|rate| points.iter().find(|p| p.rate == *rate).map(|p| p.p99))
                    .collect();
                (proxy.peer(), values)
            })
            .collect();
        let file = "side-by-side-p99.png";
        grouped_bars(
            &out.join(file),
            "p99 latency at fixed rates (HTTP/1.1, 0 B; lower is better)",
            "ms",
            &labels,
            series,
        )?;
        charts.push(("p99 latency at fixed rates".to_string(), file.to_string()));
    }
    Ok(charts)
}

/// A chart's bars: per peer, one value (or a gap) per group.
type Series = Vec<(&'static Peer, Vec<Option<f64>>)>;

/// One series per peer: `figure` of each scenario's throughput point.
fn by_scenario(
    results: &Results,
    peers: impl Iterator<Item = &'static Peer>,
    figure: impl Fn(&Throughput) -> Option<f64>,
) -> Series {
    peers
        .map(|peer| {
            let values = (0..SCENARIOS.len())
                .map(|i| results.throughput.get(&(i, peer.proxy)).and_then(&figure))
                .collect();
            (peer, values)
        })
        .collect()
}

/// One bar per series in each group; missing values leave a gap.
fn grouped_bars(
    path: &Path,
    title: &str,
    unit: &str,
    groups: &[String],
    series: Series,
) -> anyhow::Result<()> {
    let draw = || -> Result<(), Box<dyn std::error::Error>> {
        let root = BitMapBackend::new(path, (1400, 650)).into_drawing_area();
        root.fill(&WHITE)?;
        let top = series
            .iter()
            .flat_map(|(_, values)| values.iter().flatten())
            .fold(0.0_f64, |a, b| a.max(*b));
        let top = if top > 0.0 { top * 1.15 } else { 1.0 };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 26))
            .margin(20)
            .x_label_area_size(50)
            .y_label_area_size(90)
            .build_cartesian_2d(0.0..groups.len() as f64, 0.0..top)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(unit)
            .y_label_formatter(&|v| {
                if top > 100.0 {
                    format!("{v:.0}")
                } else {
                    format!("{v:.1}")
                }
            })
            .label_style(("sans-serif", 15))
            .draw()?;
        let width = 0.8 / series.len().max(1) as f64;
        for (j, (peer, values)) in series.iter().enumerate() {
            // The same colour for a proxy in every chart.
            let color = Palette99::pick(peer.color).to_rgba();
            let bars = values.iter().enumerate().filter_map(|(i, v)| {
                let x0 = i as f64 + 0.1 + j as f64 * width;
                v.map(|v| Rectangle::new([(x0, 0.0), (x0 + width * 0.95, v)], color.filled()))
            });
            chart
                .draw_series(bars)?
                .label(peer.name)
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 6), (x + 14, y + 6)], color.filled())
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .draw()?;
        for (i, group) in groups.iter().enumerate() {
            let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            let label = Text::new(
                group.clone(),
                (x - 7 * group.chars().count() as i32 / 2, y + 12),
                ("sans-serif", 15),
            );
            root.draw(&label)?;
        }
        root.present()?;
        Ok(())
    };
    draw()
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("cannot draw {}", path.display()))
}
