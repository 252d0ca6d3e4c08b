-- One database per service (each service owns its data and migrates its
-- own schema at start), all owned by the POSTGRES_USER of compose.yaml.
-- Runs once, when the postgres volume is first initialised.
CREATE DATABASE erpsim;
CREATE DATABASE wmssim;
CREATE DATABASE catalog_pricing;
CREATE DATABASE inventory;
CREATE DATABASE orders;
CREATE DATABASE fulfillment;
CREATE DATABASE ops;
CREATE DATABASE notify;
