//! What the HTTP handlers share with the Kafka loop: the view, how to present it, and whether
//! the view has caught up with the topic.

use crate::presentation::Presenter;
use crate::view::KpiView;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

#[derive(Clone)]
pub struct ExporterState {
    pub view: Arc<RwLock<KpiView>>,
    pub presenter: Arc<Presenter>,
    ready: Arc<AtomicBool>,
}

impl ExporterState {
    pub fn new(view: KpiView, presenter: Presenter) -> ExporterState {
        ExporterState {
            view: Arc::new(RwLock::new(view)),
            presenter: Arc::new(presenter),
            ready: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Ready once the view was rebuilt from every partition of `vardpuls.kpi.v1`.
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Relaxed);
    }
}
