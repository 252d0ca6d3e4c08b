CREATE TABLE orders (
	id TEXT PRIMARY KEY,
	request_id TEXT NOT NULL UNIQUE,
	total_minor INTEGER NOT NULL,
	currency TEXT NOT NULL,
	created_at TIMESTAMP NOT NULL
);
