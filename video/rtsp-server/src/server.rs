//! [`TestServer`]: the RTSP server on its own glib main loop, and the hooks
//! that make it fail like a camera.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, mpsc};
use std::thread::JoinHandle;

use gstreamer_rtsp_server::prelude::*;
use gstreamer_rtsp_server::{
    RTSP_PERM_MEDIA_FACTORY_ACCESS, RTSP_PERM_MEDIA_FACTORY_CONSTRUCT,
    RTSP_TOKEN_MEDIA_FACTORY_ROLE, RTSPAuth, RTSPFilterResult, RTSPMedia, RTSPMediaFactory,
    RTSPServer, RTSPToken, gio, glib, gst,
};

use crate::mount::{Mount, check_clip, normalize_path};

/// The role of clients that sent no (or wrong) credentials.
const ANONYMOUS: &str = "anonymous";

/// What can go wrong running the test server.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// GStreamer could not be initialised.
    #[error("GStreamer init failed: {0}")]
    Init(#[from] glib::Error),
    /// The server could not listen on its port.
    #[error("cannot listen on 127.0.0.1:{port}: {reason}")]
    Listen {
        /// The port asked for (0: any).
        port: u16,
        /// GStreamer's message.
        reason: String,
    },
    /// Two mounts share a path.
    #[error("mount path {0} given twice")]
    DuplicatePath(String),
    /// No mount has this path.
    #[error("no mount at {0}")]
    UnknownPath(String),
    /// A mount's clip cannot be served.
    #[error("cannot serve the clip {path}: {reason}")]
    Clip {
        /// The clip's path.
        path: String,
        /// Why not.
        reason: String,
    },
    /// The server's main loop thread has gone.
    #[error("the server's main loop has stopped")]
    LoopGone,
}

/// The elements of one running media that the hooks act on.
struct MediaHooks {
    valve: glib::WeakRef<gst::Element>,
    /// None for a clip: its size is the clip's.
    size: Option<glib::WeakRef<gst::Element>>,
}

/// One mount's current settings and its running medias.
struct MountState {
    mount: Mount,
    stalled: bool,
    width: u32,
    height: u32,
    medias: Vec<MediaHooks>,
}

impl MountState {
    /// The caps the size capsfilter holds now.
    fn caps(&self) -> gst::Caps {
        gst::Caps::builder("video/x-raw")
            .field("width", clamp_i32(self.width))
            .field("height", clamp_i32(self.height))
            .field(
                "framerate",
                gst::Fraction::new(clamp_i32(self.mount.fps.max(1)), 1),
            )
            .build()
    }

    /// Applies the current settings to every running media, dropping those
    /// that have gone.
    fn apply(&mut self) {
        let caps = self.caps();
        let stalled = self.stalled;
        self.medias.retain(|hooks| {
            let Some(valve) = hooks.valve.upgrade() else {
                return false;
            };
            valve.set_property("drop", stalled);
            match hooks.size.as_ref().map(glib::WeakRef::upgrade) {
                None => true,
                Some(Some(size)) => {
                    size.set_property("caps", &caps);
                    true
                }
                Some(None) => false,
            }
        });
    }
}

fn clamp_i32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}

type Mounts = Arc<Mutex<HashMap<String, MountState>>>;

/// GStreamer's RTSP server on 127.0.0.1, serving [`Mount`]s; stops on drop.
pub struct TestServer {
    server: RTSPServer,
    context: glib::MainContext,
    main_loop: glib::MainLoop,
    thread: Option<JoinHandle<()>>,
    port: u16,
    listening: Mutex<Option<glib::Source>>,
    mounts: Mounts,
    /// Client connections accepted so far.
    clients: Arc<std::sync::atomic::AtomicU64>,
}

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl TestServer {
    /// Serves `mounts` on a port the OS picks.
    pub fn start(mounts: &[Mount]) -> Result<TestServer, ServerError> {
        TestServer::start_on(0, mounts)
    }

    /// Serves `mounts` on `port` (0: a port the OS picks).
    pub fn start_on(port: u16, mounts: &[Mount]) -> Result<TestServer, ServerError> {
        gst::init()?;
        let server = RTSPServer::new();
        server.set_address("127.0.0.1");
        server.set_service(&port.to_string());
        let state: Mounts = Arc::default();
        let points = server.mount_points().ok_or(ServerError::LoopGone)?;
        let roles = roles(mounts);
        for (index, mount) in mounts.iter().enumerate() {
            if let Some(clip) = &mount.clip {
                check_clip(clip).map_err(|reason| ServerError::Clip {
                    path: clip.display().to_string(),
                    reason,
                })?;
            }
            let path = mount.mount_path();
            let mut guard = lock(&state);
            if guard.contains_key(&path) {
                return Err(ServerError::DuplicatePath(path));
            }
            guard.insert(
                path.clone(),
                MountState {
                    mount: mount.clone(),
                    stalled: false,
                    width: mount.width,
                    height: mount.height,
                    medias: Vec::new(),
                },
            );
            drop(guard);
            let factory = factory(mount, &path, &state);
            if !roles.is_empty() {
                // Everyone may see every mount (denied access reads as 404);
                // a locked mount lets only its own user construct its media
                // (denied construction reads as 401, asking for credentials).
                let mut distinct: Vec<&str> = roles.iter().map(String::as_str).collect();
                distinct.sort_unstable();
                distinct.dedup();
                for role in distinct.into_iter().chain([ANONYMOUS]) {
                    let construct = mount.credentials.is_none() || role == roles[index];
                    factory.add_role_from_structure(
                        &gst::Structure::builder(role)
                            .field(RTSP_PERM_MEDIA_FACTORY_ACCESS.as_str(), true)
                            .field(RTSP_PERM_MEDIA_FACTORY_CONSTRUCT.as_str(), construct)
                            .build(),
                    );
                }
            }
            points.add_factory(&path, factory);
        }
        if mounts.iter().any(|m| m.credentials.is_some()) {
            server.set_auth(Some(&auth(mounts, &roles)));
        }

        let clients = Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counter = Arc::clone(&clients);
        server.connect_client_connected(move |_, _| {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        });
        let context = glib::MainContext::new();
        let main_loop = glib::MainLoop::new(Some(&context), false);
        let source = listen(&server, &context, port)?;
        let bound = u16::try_from(server.bound_port()).map_err(|_| ServerError::Listen {
            port,
            reason: "no bound port".to_owned(),
        })?;
        // A restart binds the same port again.
        server.set_service(&bound.to_string());
        let thread = {
            let context = context.clone();
            let main_loop = main_loop.clone();
            std::thread::Builder::new()
                .name("rtsp-server".to_owned())
                .spawn(move || {
                    let _ = context.with_thread_default(|| main_loop.run());
                })
                .map_err(|e| ServerError::Listen {
                    port,
                    reason: format!("cannot start the server thread: {e}"),
                })?
        };
        Ok(TestServer {
            server,
            context,
            main_loop,
            thread: Some(thread),
            port: bound,
            listening: Mutex::new(Some(source)),
            mounts: state,
            clients,
        })
    }

    /// How many client connections (RTSP sessions' TCP connections) the
    /// server has accepted so far.
    pub fn clients_connected(&self) -> u64 {
        self.clients.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `rtsp://127.0.0.1:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://127.0.0.1:{}{}", self.port, normalize_path(path))
    }

    /// `rtsp://user:pass@127.0.0.1:PORT/path`.
    pub fn url_with(&self, path: &str, user: &str, pass: &str) -> String {
        format!(
            "rtsp://{user}:{pass}@127.0.0.1:{}{}",
            self.port,
            normalize_path(path)
        )
    }

    /// Closes every client connection and session and stops listening: to a
    /// client the server has died, and connecting is refused until
    /// [`TestServer::restart`].
    pub fn stop(&self) -> Result<(), ServerError> {
        let listening = lock(&self.listening).take();
        let server = self.server.clone();
        self.on_loop(move || {
            if let Some(source) = listening {
                source.destroy();
            }
            if let Some(pool) = server.session_pool() {
                pool.filter(Some(&mut |_, _| RTSPFilterResult::Remove));
            }
            server.client_filter(Some(&mut |_, _| RTSPFilterResult::Remove));
        })
    }

    /// Listens again on the same port with the same mounts (a no-op when
    /// listening).
    pub fn restart(&self) -> Result<(), ServerError> {
        let mut listening = lock(&self.listening);
        if listening.is_none() {
            *listening = Some(listen(&self.server, &self.context, self.port)?);
        }
        Ok(())
    }

    /// Drops every frame of `path` from now on: the connection stays open,
    /// RTCP keeps flowing, no video comes.
    pub fn stall(&self, path: &str) -> Result<(), ServerError> {
        self.update(path, |state| state.stalled = true)
    }

    /// Sends frames of `path` again after [`TestServer::stall`].
    pub fn resume(&self, path: &str) -> Result<(), ServerError> {
        self.update(path, |state| state.stalled = false)
    }

    /// Changes the resolution of `path`'s stream mid-stream (the encoder
    /// renegotiates and sends new parameter sets).
    pub fn set_size(&self, path: &str, width: u32, height: u32) -> Result<(), ServerError> {
        self.update(path, |state| {
            state.width = width;
            state.height = height;
        })
    }

    fn update(&self, path: &str, change: impl FnOnce(&mut MountState)) -> Result<(), ServerError> {
        let path = normalize_path(path);
        let mut mounts = lock(&self.mounts);
        let state = mounts
            .get_mut(&path)
            .ok_or(ServerError::UnknownPath(path))?;
        change(state);
        state.apply();
        Ok(())
    }

    /// Runs `work` on the server's main loop thread and waits for it.
    fn on_loop(&self, work: impl FnOnce() + Send + 'static) -> Result<(), ServerError> {
        let (done, wait) = mpsc::channel();
        self.context.invoke(move || {
            work();
            let _ = done.send(());
        });
        wait.recv().map_err(|_| ServerError::LoopGone)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop();
        if let Some(points) = self.server.mount_points() {
            for path in lock(&self.mounts).keys() {
                points.remove_factory(path);
            }
        }
        self.main_loop.quit();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Binds the server's port and attaches its listening source to `context`.
fn listen(
    server: &RTSPServer,
    context: &glib::MainContext,
    port: u16,
) -> Result<glib::Source, ServerError> {
    let source = server
        .create_source(None::<&gio::Cancellable>)
        .map_err(|e| ServerError::Listen {
            port,
            reason: e.to_string(),
        })?;
    source.attach(Some(context));
    Ok(source)
}

/// A shared media factory for `mount`, whose medias register their hooks.
fn factory(mount: &Mount, path: &str, state: &Mounts) -> RTSPMediaFactory {
    let factory = RTSPMediaFactory::new();
    factory.set_launch(&mount.launch_line());
    factory.set_shared(true);
    let state = Arc::clone(state);
    let path = path.to_owned();
    factory.connect_media_configure(move |_, media: &RTSPMedia| {
        let Ok(bin) = media.element().downcast::<gst::Bin>() else {
            return;
        };
        if let Some(pad) = bin.by_name("parse").and_then(|p| p.static_pad("src")) {
            pace_clip(&pad);
        }
        let Some(valve) = bin.by_name("valve") else {
            return;
        };
        let size = bin.by_name("size");
        let mut mounts = lock(&state);
        if let Some(mount) = mounts.get_mut(&path) {
            mount.medias.push(MediaHooks {
                valve: valve.downgrade(),
                size: size.map(|s| s.downgrade()),
            });
            mount.apply();
        }
    });
    factory
}

/// Gives a clip's access units their decoding time as presentation time
/// (`h264parse` stamps only the first's): a clip without B-frames shows
/// them in that order, and the server's sinks send each at its time.
fn pace_clip(pad: &gst::Pad) {
    pad.add_probe(gst::PadProbeType::BUFFER, |_, info| {
        if let Some(gst::PadProbeData::Buffer(buffer)) = &mut info.data
            && let Some(dts) = buffer.dts()
        {
            buffer.make_mut().set_pts(dts);
        }
        gst::PadProbeReturn::Ok
    });
}

/// One role a mount, shared by the mounts with the same credentials (one
/// user name and password is one basic token, so it must be one role);
/// empty when no mount needs credentials.
fn roles(mounts: &[Mount]) -> Vec<String> {
    if mounts.iter().all(|m| m.credentials.is_none()) {
        return Vec::new();
    }
    mounts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let first = m
                .credentials
                .as_ref()
                .and_then(|c| {
                    mounts
                        .iter()
                        .position(|o| o.credentials.as_ref() == Some(c))
                })
                .unwrap_or(i);
            format!("user{first}")
        })
        .collect()
}

/// Basic authentication for the mounts with credentials; everyone else is
/// anonymous.
fn auth(mounts: &[Mount], roles: &[String]) -> RTSPAuth {
    let auth = RTSPAuth::new();
    let mut anonymous = RTSPToken::builder()
        .field(RTSP_TOKEN_MEDIA_FACTORY_ROLE.as_str(), ANONYMOUS)
        .build();
    auth.set_default_token(Some(&mut anonymous));
    for (mount, role) in mounts.iter().zip(roles) {
        if let Some((user, pass)) = &mount.credentials {
            let token = RTSPToken::builder()
                .field(RTSP_TOKEN_MEDIA_FACTORY_ROLE.as_str(), role.as_str())
                .build();
            auth.add_basic(&RTSPAuth::make_basic(user, pass), &token);
        }
    }
    auth
}

/// Locks `mutex`, taking the data even when another thread panicked holding
/// it (the state stays consistent: every change is one assignment).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
