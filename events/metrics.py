"""Prometheus metrics of the event backbone, served by each component's /metrics. Labels carry
components and event types, never customer ids."""

from prometheus_client import Counter, Gauge

PUBLISHED = Counter("crm_events_published_total", "Events the outbox relay published", ["source", "type"])
CONSUMED = Counter(
    "crm_events_consumed_total",
    "Events a consumer handled, by outcome (applied, duplicate, ignored, dead_lettered)",
    ["group", "type", "outcome"],
)
OUTBOX_BACKLOG = Gauge("crm_outbox_unsent", "Committed events not yet published (last relay round)", ["source"])
BROKER_REACHABLE = Gauge("crm_broker_reachable", "1 when the broker answered the last probe, else 0", ["component"])
CONSUMER_LAG = Gauge(
    "crm_consumer_lag",
    "Messages between a group's position and the partition end, after its last batch",
    ["group", "topic", "partition"],
)
