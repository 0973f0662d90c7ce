//! bwv: an open body worn video evidence pipeline. Footage comes in through doors (CLI, watched
//! folder, dock protocols), is hashed as it is stored write-once, catalogued, and every step is
//! recorded in a tamper-evident audit chain that outsiders can verify.

pub mod access;
pub mod app;
pub mod audit;
pub mod cases;
pub mod catalogue;
pub mod classification;
pub mod cli;
pub mod commands;
pub mod config;
pub mod consultation;
pub mod context;
pub mod disclosure;
pub mod docks;
pub mod domain;
pub mod error;
pub mod fsck;
pub mod holds;
pub mod http;
pub mod ingest;
pub mod jobs;
pub mod media;
pub mod recording;
pub mod registry;
pub mod retention;
pub mod store;
pub mod web;
