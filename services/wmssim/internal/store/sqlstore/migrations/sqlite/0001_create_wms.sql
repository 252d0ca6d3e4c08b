-- Counters hand out outbound/inbound numbers and feed positions. Taking the
-- next value locks the counter row until commit, so feed positions become
-- visible in order.
CREATE TABLE wms_counters (
	name TEXT PRIMARY KEY,
	last_value INTEGER NOT NULL
);
INSERT INTO wms_counters (name, last_value) VALUES
	('shipment_requests', 0), ('shipment_events', 0), ('expected_returns', 0), ('return_events', 0);

-- record holds the whole domain record as JSON; the other columns are what
-- queries filter or sort on.
CREATE TABLE shipment_requests (
	id TEXT PRIMARY KEY,
	number INTEGER NOT NULL UNIQUE,
	state TEXT NOT NULL,
	next_step_at TIMESTAMP,
	create_time TIMESTAMP NOT NULL,
	update_time TIMESTAMP NOT NULL,
	record TEXT NOT NULL
);
CREATE INDEX shipment_requests_due ON shipment_requests (next_step_at) WHERE next_step_at IS NOT NULL;

CREATE TABLE shipment_events (
	position INTEGER PRIMARY KEY,
	event_id TEXT NOT NULL UNIQUE,
	shipment_request_id TEXT NOT NULL REFERENCES shipment_requests (id),
	sequence INTEGER NOT NULL,
	state TEXT NOT NULL,
	occur_time TIMESTAMP NOT NULL,
	record TEXT NOT NULL,
	UNIQUE (shipment_request_id, sequence)
);

CREATE TABLE expected_returns (
	id TEXT PRIMARY KEY,
	number INTEGER NOT NULL UNIQUE,
	state TEXT NOT NULL,
	create_time TIMESTAMP NOT NULL,
	update_time TIMESTAMP NOT NULL,
	record TEXT NOT NULL
);

CREATE TABLE return_events (
	position INTEGER PRIMARY KEY,
	event_id TEXT NOT NULL UNIQUE,
	expected_return_id TEXT NOT NULL REFERENCES expected_returns (id),
	sequence INTEGER NOT NULL,
	occur_time TIMESTAMP NOT NULL,
	record TEXT NOT NULL,
	UNIQUE (expected_return_id, sequence)
);
