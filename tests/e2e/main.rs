//! End-to-end tests: the real API over HTTP, real databases and queues, the mock LLM over HTTP.
//! Most tests run once per deployment shape.

mod helpers;
mod receiver;

mod access;
mod admission;
mod api_errors;
mod audit;
mod calibration;
mod change_events;
mod contract;
mod crm_sync;
mod cross_tenant;
mod cut_link;
mod directory;
mod dispatch;
mod enrichment;
mod erasure;
mod gateway;
mod graph;
mod job_requests;
mod killed_worker;
mod kinds;
mod live;
mod llm_faults;
mod match_conditions;
mod match_meaning;
mod matching;
mod outages;
mod outcomes;
mod panels;
mod parallelism;
mod personas;
mod schedules;
mod sealed_profiles;
mod simulation_list;
mod simulations;
mod startup;
mod store_permissions;
mod tenancy;
mod tls;
mod typed_questions;
mod wake;
mod web;
mod web_forms;
mod webhooks;
