-- tools/sample/wms_schema.sql — a small legacy WMS/ERP schema for
-- tools/quickstart, with the quirks such systems have: CHAR codes padded with
-- blanks, composite natural keys, NUMERIC quantities with three decimals,
-- local timestamps without time zone next to timestamptz, a SERIAL id, and a
-- log table without a primary key. Loaded into an empty database, then
-- tools/sample/wms_burst.sql changes it while waybill captures.

SET client_min_messages = warning;

-- Stock on hand per warehouse and article. Key: (warehouse, sku).
CREATE TABLE stock_balance (
	warehouse    CHAR(4)        NOT NULL,          -- 'WH01', 'WH2 ' (blank padded)
	sku          VARCHAR(20)    NOT NULL,
	bin_code     VARCHAR(10),                      -- main storage bin
	qty_on_hand  NUMERIC(14,3)  NOT NULL DEFAULT 0,
	qty_reserved NUMERIC(14,3)  NOT NULL DEFAULT 0,
	uom          CHAR(3)        NOT NULL DEFAULT 'PCE',
	last_move_ts TIMESTAMP,                        -- local time of the warehouse
	PRIMARY KEY (warehouse, sku)
);

-- Every goods movement. move_type: GR goods receipt, TR transfer between
-- bins, GI goods issue, AD adjustment. status: OK booked, RV reversed.
CREATE TABLE stock_move (
	move_id      SERIAL         PRIMARY KEY,
	move_type    CHAR(2)        NOT NULL,
	warehouse    CHAR(4)        NOT NULL,
	sku          VARCHAR(20)    NOT NULL,
	from_bin     VARCHAR(10),
	to_bin       VARCHAR(10),
	qty          NUMERIC(14,3)  NOT NULL,
	ref_doc      VARCHAR(20),                      -- PO, shipment or correction number
	status       CHAR(2)        NOT NULL DEFAULT 'OK',
	created_ts   TIMESTAMP      NOT NULL DEFAULT LOCALTIMESTAMP,
	created_by   VARCHAR(8)     NOT NULL DEFAULT CURRENT_USER
);

-- Outbound shipments. status: OP open, PK picked, SH shipped, DL delivered;
-- the carrier interface also writes PA packed, IT in transit, EX exception.
CREATE TABLE shipment (
	shipment_no  VARCHAR(12)    PRIMARY KEY,
	customer_no  VARCHAR(10)    NOT NULL,
	warehouse    CHAR(4)        NOT NULL,
	status       CHAR(2)        NOT NULL DEFAULT 'OP',
	carrier      CHAR(4),
	ship_date    DATE,
	shipped_at   TIMESTAMPTZ,
	delivered_at TIMESTAMPTZ,
	weight_kg    NUMERIC(10,3),
	remarks      TEXT
);

-- Shipment lines. Key: (shipment_no, line_no).
CREATE TABLE shipment_line (
	shipment_no  VARCHAR(12)    NOT NULL REFERENCES shipment,
	line_no      SMALLINT       NOT NULL,
	sku          VARCHAR(20)    NOT NULL,
	qty          NUMERIC(14,3)  NOT NULL,
	unit_price   NUMERIC(12,2)  NOT NULL,
	PRIMARY KEY (shipment_no, line_no)
);

-- Freight costs a carrier bills per shipment. charge_code: FRT freight, FSC
-- fuel surcharge, TOL toll, HDL handling.
CREATE TABLE freight_charge (
	charge_id    SERIAL         PRIMARY KEY,
	shipment_no  VARCHAR(12)    NOT NULL REFERENCES shipment,
	charge_code  CHAR(3)        NOT NULL,
	amount       NUMERIC(12,2)  NOT NULL,
	currency     CHAR(3)        NOT NULL DEFAULT 'EUR',
	invoice_no   VARCHAR(20),
	booked_ts    TIMESTAMP      NOT NULL           -- local time of the warehouse
);

-- Audit log written by the legacy application. No primary key, as is common.
CREATE TABLE stock_audit (
	logged_at    TIMESTAMP      NOT NULL,
	user_id      VARCHAR(8)     NOT NULL,
	action       CHAR(1)        NOT NULL,          -- I, U, D, C (correction)
	object_ref   VARCHAR(40)    NOT NULL,
	detail       TEXT
);

-- Data that exists before capture starts (waybill sees only later changes).
INSERT INTO stock_balance VALUES
	('WH01', 'BOLT-M8X40',  'A-01-03', 1200.000, 0, 'PCE', '2024-03-01 07:12:00'),
	('WH01', 'NUT-M8',      'A-01-04', 5000.000, 0, 'PCE', '2024-03-01 07:15:00'),
	('WH01', 'WASHER-8',    'A-01-05',  800.000, 0, 'PCE', '2024-03-01 07:20:00'),
	('WH01', 'CABLE-3X1.5', 'C-04-01',  250.500, 0, 'M  ', '2024-02-27 16:40:00'),
	('WH2 ', 'BOLT-M8X40',  'B-02-01',  300.000, 0, 'PCE', '2024-02-28 09:00:00');

-- What attaching waybill needs from the DBA (see README.md). stock_audit
-- has no primary key, so PostgreSQL would log no old row for its updates and
-- deletes (and refuse them once the table is in a publication). REPLICA
-- IDENTITY FULL makes it log the whole old row; waybill check asks for it.
ALTER TABLE stock_audit REPLICA IDENTITY FULL;
-- The sample mappings (mappings/wms_*.yaml) compare old and new values of
-- stock_balance, stock_move and shipment (a quantity's delta, a status that
-- changed): they need the whole old row too.
ALTER TABLE stock_balance REPLICA IDENTITY FULL;
ALTER TABLE stock_move REPLICA IDENTITY FULL;
ALTER TABLE shipment REPLICA IDENTITY FULL;
