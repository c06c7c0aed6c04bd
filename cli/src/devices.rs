//! `osprey devices`: the GPU adapters wgpu sees, the one `--backend gpu`
//! opens and the one `auto` takes.
//!
//! Prints a table on stdout, or with `--json` one JSON object:
//! `{"adapters":[{"name",..,"backend",..,"device_type",..,"driver",..,"driver_info",..}],"gpu":{..}|null,"auto":{..}|null}`,
//! where `device_type` is one of `discrete`, `integrated`, `virtual`, `cpu`
//! (a software implementation such as lavapipe) or `other`. `auto` is `null`
//! when it runs on the CPU: with no adapter, or with only a software one
//! (which `gpu` still opens).

use std::io::Write;

use anyhow::Result;
use serde::Serialize;

use crate::args::DevicesArgs;

use osprey_kernels::gpu;

/// One adapter, as printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AdapterRow {
    /// The adapter's name.
    pub name: String,
    /// The graphics API wgpu reaches it through (Vulkan, Metal, DX12).
    pub backend: String,
    /// `discrete`, `integrated`, `virtual`, `cpu` or `other`.
    pub device_type: String,
    /// The driver's name.
    pub driver: String,
    /// The driver's version details.
    pub driver_info: String,
}

impl AdapterRow {
    /// The one place that reads the GPU backend's adapter summary.
    fn from_summary(a: &gpu::AdapterSummary) -> Self {
        AdapterRow {
            name: a.name.clone(),
            backend: a.backend.to_string(),
            device_type: a.device_type_name().to_owned(),
            driver: a.driver.clone(),
            driver_info: a.driver_info.clone(),
        }
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
struct Listing {
    adapters: Vec<AdapterRow>,
    gpu: Option<AdapterRow>,
    auto: Option<AdapterRow>,
}

/// Lists the adapters on stdout.
///
/// # Errors
/// Only when stdout cannot be written (a closed pipe is reported as such, and
/// `main` treats it as success).
pub fn run(args: &DevicesArgs) -> Result<()> {
    let listing = Listing {
        adapters: gpu::list_adapters()
            .iter()
            .map(AdapterRow::from_summary)
            .collect(),
        gpu: gpu::preferred_adapter()
            .as_ref()
            .map(AdapterRow::from_summary),
        auto: gpu::auto_adapter().as_ref().map(AdapterRow::from_summary),
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer(&mut out, &listing)?;
        writeln!(out)?;
    } else {
        write_table(&mut out, &listing)?;
    }
    out.flush()?;
    Ok(())
}

/// The human-readable form.
fn write_table(out: &mut impl Write, listing: &Listing) -> std::io::Result<()> {
    if listing.adapters.is_empty() {
        writeln!(out, "wgpu sees no GPU adapter")?;
    } else {
        let width = listing
            .adapters
            .iter()
            .map(|a| a.name.len())
            .max()
            .unwrap_or(0);
        writeln!(
            out,
            "{:<width$}  {:<8}  {:<14}  driver",
            "adapter", "backend", "type"
        )?;
        for a in &listing.adapters {
            let driver = match (a.driver.is_empty(), a.driver_info.is_empty()) {
                (false, false) => format!("{} ({})", a.driver, a.driver_info),
                (false, true) => a.driver.clone(),
                (true, _) => a.driver_info.clone(),
            };
            writeln!(
                out,
                "{:<width$}  {:<8}  {:<14}  {driver}",
                a.name, a.backend, a.device_type
            )?;
        }
    }
    match (&listing.auto, &listing.gpu) {
        (Some(a), _) => writeln!(out, "auto: {} ({}, {})", a.name, a.backend, a.device_type),
        (None, Some(g)) => writeln!(
            out,
            "auto: the CPU ({} is a software adapter, slower than the CPU backend; \
             --backend gpu uses it)",
            g.name
        ),
        (None, None) => writeln!(out, "auto: none: auto uses the CPU"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, device_type: &str) -> AdapterRow {
        AdapterRow {
            name: name.into(),
            backend: "Vulkan".into(),
            device_type: device_type.into(),
            driver: "llvmpipe".into(),
            driver_info: "Mesa 22.3.6".into(),
        }
    }

    #[test]
    fn table_names_the_auto_choice() {
        let listing = Listing {
            adapters: vec![row("llvmpipe", "cpu"), row("NVIDIA H100", "discrete")],
            gpu: Some(row("NVIDIA H100", "discrete")),
            auto: Some(row("NVIDIA H100", "discrete")),
        };
        let mut out = Vec::new();
        write_table(&mut out, &listing).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.lines().count(), 4, "{text}");
        assert!(
            text.contains("llvmpipe     Vulkan    cpu             llvmpipe (Mesa 22.3.6)"),
            "{text}"
        );
        assert!(
            text.ends_with("auto: NVIDIA H100 (Vulkan, discrete)\n"),
            "{text}"
        );
    }

    #[test]
    fn a_software_adapter_is_not_autos() {
        let listing = Listing {
            adapters: vec![row("llvmpipe", "cpu")],
            gpu: Some(row("llvmpipe", "cpu")),
            auto: None,
        };
        let mut out = Vec::new();
        write_table(&mut out, &listing).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.ends_with(
                "auto: the CPU (llvmpipe is a software adapter, slower than the CPU backend; \
                 --backend gpu uses it)\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn table_without_adapters() {
        let listing = Listing {
            adapters: Vec::new(),
            gpu: None,
            auto: None,
        };
        let mut out = Vec::new();
        write_table(&mut out, &listing).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "wgpu sees no GPU adapter\nauto: none: auto uses the CPU\n"
        );
    }
}
