CREATE TABLE orders (
	id TEXT PRIMARY KEY,
	request_id TEXT NOT NULL UNIQUE,
	total_minor BIGINT NOT NULL,
	currency TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);
