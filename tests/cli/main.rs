//! The real `swapmesh` binary as separate processes: init and run, the API's
//! security, its OpenAPI document and its answers to bad input, configuration,
//! money, pages and short ids, photos, help and man pages, and several nodes over real
//! sockets on 127.0.0.1 (sharing listings, and agreeing on them through the
//! API).

mod http;
mod kit;
mod mail;
mod peer;

mod agreements;
mod agreements_api;
mod agreements_crash;
mod api;
mod attack;
mod blocked;
mod commands;
mod disk;
mod docs;
mod errors;
mod money;
mod network;
mod openapi;
mod paging;
mod photos;
mod private_meshes;
mod reviews;
mod tokens;
mod trust;
mod web_agreements;
mod web_pages;
mod web_sessions;
