-- tools/sample/wms_schema_mysql.sql — the legacy WMS/ERP schema of
-- tools/sample/wms_schema.sql in MySQL/MariaDB dialect, for
-- tools/quickstart --mysql, with the quirks such systems have there: CHAR
-- codes (MySQL strips their trailing blanks: 'WH2 ' reads back as 'WH2'),
-- composite natural keys, DECIMAL quantities with three decimals, DATETIME
-- (local, no time zone) next to TIMESTAMP (stored in UTC, converted from
-- the session's time zone), an ENUM status, UNSIGNED integers, an
-- AUTO_INCREMENT id, a latin1 table left over from the old days, and a log
-- table without a primary key. Loaded into an empty database wms, then
-- tools/sample/wms_burst_mysql.sql changes it while waybill captures.

-- Stock on hand per warehouse and article. Key: (warehouse, sku).
CREATE TABLE stock_balance (
	warehouse    CHAR(4)        NOT NULL,          -- 'WH01', 'WH2 ' (blank padded)
	sku          VARCHAR(20)    NOT NULL,
	bin_code     VARCHAR(10),                      -- main storage bin
	qty_on_hand  DECIMAL(14,3)  NOT NULL DEFAULT 0,
	qty_reserved DECIMAL(14,3)  NOT NULL DEFAULT 0,
	uom          CHAR(3)        NOT NULL DEFAULT 'PCE',
	last_move_ts DATETIME,                         -- local time of the warehouse
	PRIMARY KEY (warehouse, sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Every goods movement. move_type: GR goods receipt, TR transfer between
-- bins, GI goods issue, AD adjustment. status: OK booked, RV reversed.
CREATE TABLE stock_move (
	move_id      INT UNSIGNED   NOT NULL AUTO_INCREMENT PRIMARY KEY,
	move_type    CHAR(2)        NOT NULL,
	warehouse    CHAR(4)        NOT NULL,
	sku          VARCHAR(20)    NOT NULL,
	from_bin     VARCHAR(10),
	to_bin       VARCHAR(10),
	qty          DECIMAL(14,3)  NOT NULL,
	ref_doc      VARCHAR(20),                      -- PO, shipment or correction number
	status       CHAR(2)        NOT NULL DEFAULT 'OK',
	created_ts   DATETIME       NOT NULL DEFAULT CURRENT_TIMESTAMP,
	created_by   VARCHAR(8)     NOT NULL DEFAULT 'SYSTEM'
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Outbound shipments. status: OP open, PK picked, SH shipped, DL delivered.
CREATE TABLE shipment (
	shipment_no  VARCHAR(12)    NOT NULL PRIMARY KEY,
	customer_no  VARCHAR(10)    NOT NULL,
	warehouse    CHAR(4)        NOT NULL,
	status       ENUM('OP', 'PK', 'SH', 'DL') NOT NULL DEFAULT 'OP',
	carrier      CHAR(4),
	ship_date    DATE,
	shipped_at   TIMESTAMP      NULL,              -- UTC inside, session time zone outside
	delivered_at TIMESTAMP      NULL,
	weight_kg    DECIMAL(10,3),
	remarks      TEXT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Shipment lines. Key: (shipment_no, line_no).
CREATE TABLE shipment_line (
	shipment_no  VARCHAR(12)    NOT NULL,
	line_no      TINYINT UNSIGNED NOT NULL,
	sku          VARCHAR(20)    NOT NULL,
	qty          DECIMAL(14,3)  NOT NULL,
	unit_price   DECIMAL(12,2)  NOT NULL,
	PRIMARY KEY (shipment_no, line_no),
	FOREIGN KEY (shipment_no) REFERENCES shipment (shipment_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Freight costs a carrier bills per shipment. charge_code: FRT freight, FSC
-- fuel surcharge, TOL toll, HDL handling.
CREATE TABLE freight_charge (
	charge_id    INT UNSIGNED   NOT NULL AUTO_INCREMENT PRIMARY KEY,
	shipment_no  VARCHAR(12)    NOT NULL,
	charge_code  CHAR(3)        NOT NULL,
	amount       DECIMAL(12,2)  NOT NULL,
	currency     CHAR(3)        NOT NULL DEFAULT 'EUR',
	invoice_no   VARCHAR(20),
	booked_ts    DATETIME       NOT NULL,
	FOREIGN KEY (shipment_no) REFERENCES shipment (shipment_no)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Audit log written by the legacy application: latin1, and no primary key,
-- as is common. (MySQL needs nothing like PostgreSQL's REPLICA IDENTITY
-- FULL for it: with binlog_row_image=FULL every update and delete logs the
-- whole old row.)
CREATE TABLE stock_audit (
	logged_at    DATETIME       NOT NULL,
	user_id      VARCHAR(8)     NOT NULL,
	action       CHAR(1)        NOT NULL,          -- I, U, D, C (correction)
	object_ref   VARCHAR(40)    NOT NULL,
	detail       TEXT
) ENGINE=InnoDB DEFAULT CHARSET=latin1;

-- Data that exists before capture starts (waybill sees only later changes).
INSERT INTO stock_balance VALUES
	('WH01', 'BOLT-M8X40',  'A-01-03', 1200.000, 0, 'PCE', '2024-03-01 07:12:00'),
	('WH01', 'NUT-M8',      'A-01-04', 5000.000, 0, 'PCE', '2024-03-01 07:15:00'),
	('WH01', 'WASHER-8',    'A-01-05',  800.000, 0, 'PCE', '2024-03-01 07:20:00'),
	('WH01', 'CABLE-3X1.5', 'C-04-01',  250.500, 0, 'M  ', '2024-02-27 16:40:00'),
	('WH2 ', 'BOLT-M8X40',  'B-02-01',  300.000, 0, 'PCE', '2024-02-28 09:00:00');
