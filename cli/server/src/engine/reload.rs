//! A new configuration applied to the running engine, by name: cameras,
//! queries and deliveries that are gone stop, new ones start, changed ones
//! restart, and the unchanged keep running untouched (their counts do not
//! reset). On SIGHUP the file is read again; a file that does not load is
//! logged and changes nothing. The file is the whole truth then: a camera
//! or query added through the API and not in the file is removed.
//!
//! The data directory, the listener and the backend are read once, at
//! start: a change to them is logged as needing a restart.

use std::path::Path;

use anyhow::{Context as _, Result};
use tracing::{error, info, warn};

use super::cameras::Camera;
use super::deliveries::Delivery;
use super::queries::Query;
use super::{Engine, streams};
use crate::config::ServerConfig;

/// What [`apply`](Engine::apply) needs of each kind of piece.
pub(super) trait Piece: Sized {
    type Config: Clone + PartialEq;
    fn name(&self) -> &str;
    fn config(&self) -> &Self::Config;
    fn config_name(config: &Self::Config) -> &str;
    fn stop(&self);
    fn join(&mut self);
    fn start(engine: &Engine, config: Self::Config) -> Result<Self>;
}

impl Piece for Camera {
    type Config = crate::config::CameraConfig;
    fn name(&self) -> &str {
        Camera::name(self)
    }
    fn config(&self) -> &Self::Config {
        &self.config
    }
    fn config_name(config: &Self::Config) -> &str {
        &config.name
    }
    fn stop(&self) {
        Camera::stop(self);
    }
    fn join(&mut self) {
        Camera::join(self);
    }
    fn start(engine: &Engine, config: Self::Config) -> Result<Self> {
        Camera::start(config, &engine.shared)
    }
}

impl Piece for Query {
    type Config = crate::config::QueryConfig;
    fn name(&self) -> &str {
        Query::name(self)
    }
    fn config(&self) -> &Self::Config {
        &self.config
    }
    fn config_name(config: &Self::Config) -> &str {
        &config.name
    }
    fn stop(&self) {
        Self::stop(self);
    }
    fn join(&mut self) {
        Self::join(self);
    }
    fn start(engine: &Engine, config: Self::Config) -> Result<Self> {
        Query::start(config, engine.store(), engine.cluster.as_ref())
    }
}

impl Piece for Delivery {
    type Config = crate::config::DeliveryConfig;
    fn name(&self) -> &str {
        Delivery::name(self)
    }
    fn config(&self) -> &Self::Config {
        &self.config
    }
    fn config_name(config: &Self::Config) -> &str {
        &config.name
    }
    fn stop(&self) {
        Self::stop(self);
    }
    fn join(&mut self) {
        Self::join(self);
    }
    fn start(engine: &Engine, config: Self::Config) -> Result<Self> {
        Delivery::start(config, engine.store(), engine.cluster.as_ref())
    }
}

impl Engine {
    /// Applies `config` by name; returns what could not start (the rest
    /// runs).
    pub fn apply(&self, config: ServerConfig) -> Vec<anyhow::Error> {
        let mut problems = Vec::new();
        {
            let state = self.state();
            let old = &state.config;
            if old.data_dir != config.data_dir
                || old.http != config.http
                || old.backend != config.backend
            {
                warn!("data_dir, [http] and backend take effect at the next start.");
            }
        }
        if let Err(e) = streams::create_missing(self.store(), &config) {
            problems.push(e);
        }
        let taken = std::mem::take(&mut self.state().cameras);
        let cameras = self.swap(taken, &config.cameras, &mut problems);
        let taken = std::mem::take(&mut self.state().queries);
        let queries = self.swap(taken, &config.queries, &mut problems);
        let taken = std::mem::take(&mut self.state().deliveries);
        let deliveries = self.swap(taken, &config.deliveries, &mut problems);
        let mut state = self.state();
        state.cameras = cameras;
        state.queries = queries;
        state.deliveries = deliveries;
        let (data_dir, http, backend) = (
            state.config.data_dir.clone(),
            state.config.http.clone(),
            state.config.backend,
        );
        state.config = ServerConfig {
            data_dir,
            http,
            backend,
            ..config
        };
        problems
    }

    /// Re-reads the configuration file and applies it; a file that does
    /// not load changes nothing.
    ///
    /// # Errors
    /// The file's error, or the first piece that could not start.
    pub fn reload(&self, path: &Path) -> Result<()> {
        let config = crate::config::load(path).context("the configuration was not reloaded")?;
        info!(file = %path.display(), "Reloading the configuration.");
        let mut problems = self.apply(config).into_iter();
        match problems.next() {
            None => Ok(()),
            Some(first) => {
                for e in problems {
                    error!(error = %format!("{e:#}"), "Reload left a piece stopped.");
                }
                Err(first)
            }
        }
    }

    /// Puts one piece in, replacing the one of the same name.
    pub(super) fn put<P: Piece>(
        &self,
        list: impl Fn(&mut super::State) -> &mut Vec<P>,
        configs: impl FnOnce(&mut ServerConfig) -> &mut Vec<P::Config>,
        config: P::Config,
    ) -> Result<()> {
        let mut state = self.state();
        let name = P::config_name(&config).to_owned();
        let running = list(&mut state);
        if let Some(i) = running.iter().position(|p| p.name() == name) {
            let mut old = running.remove(i);
            old.stop();
            old.join();
        }
        drop(state);
        let piece = P::start(self, config.clone())?;
        let mut state = self.state();
        list(&mut state).push(piece);
        let configs = configs(&mut state.config);
        configs.retain(|c| P::config_name(c) != name);
        configs.push(config);
        Ok(())
    }

    /// Stops and removes one piece; false when there is none of that name.
    pub(super) fn remove<P: Piece>(
        &self,
        list: impl FnOnce(&mut super::State) -> &mut Vec<P>,
        configs: impl FnOnce(&mut ServerConfig) -> &mut Vec<P::Config>,
        name: &str,
    ) -> bool {
        let mut state = self.state();
        let running = list(&mut state);
        let Some(i) = running.iter().position(|p| p.name() == name) else {
            return false;
        };
        let mut old = running.remove(i);
        configs(&mut state.config).retain(|c| P::config_name(c) != name);
        drop(state);
        old.stop();
        old.join();
        true
    }

    /// The pieces of `wanted` from `running`: the unchanged kept, the rest
    /// stopped (all together, then joined) and started anew.
    fn swap<P: Piece>(
        &self,
        running: Vec<P>,
        wanted: &[P::Config],
        problems: &mut Vec<anyhow::Error>,
    ) -> Vec<P> {
        let (mut keep, mut gone): (Vec<P>, Vec<P>) = running
            .into_iter()
            .partition(|p| wanted.iter().any(|w| w == p.config()));
        for p in &gone {
            info!(name = p.name(), "Stopping (removed or changed).");
            p.stop();
        }
        for p in &mut gone {
            p.join();
        }
        let mut out = Vec::with_capacity(wanted.len());
        for w in wanted {
            let name = P::config_name(w);
            if let Some(i) = keep.iter().position(|p| p.name() == name) {
                out.push(keep.remove(i));
                continue;
            }
            match P::start(self, w.clone()) {
                Ok(p) => out.push(p),
                Err(e) => problems.push(e),
            }
        }
        out
    }
}
