//! Sans-IO logic: no tokio, no IO, no clock; time and positions come in as arguments.

pub mod segmenter;
