//! Host-side setup both twins share: tables and plans computed once on the
//! host, which the CPU twins use directly and the GPU host uploads. A leaf
//! under [`crate::cpu`] and [`crate::gpu`], so neither imports the other's
//! helpers.

pub mod blur;
pub mod downscale;
pub mod hue;
