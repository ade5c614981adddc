-- tools/sample/erp2_schema.sql — a second legacy layout, shaped like an
-- open-source ERP of the Compiere family (iDempiere, ADempiere) on
-- PostgreSQL, for the sample mappings mappings/erp2_*.yaml: lower-case
-- names run together (m_storage, qtyonhand), numeric surrogate ids instead
-- of codes, unconstrained NUMERIC quantities and amounts (waybill sends them
-- as decimal text), Y/N flags in CHAR(1), local timestamps, and shipments
-- as documents with a two-letter docstatus.

SET client_min_messages = warning;

-- Products. value is the article number people use.
CREATE TABLE m_product (
	m_product_id   NUMERIC(10)   PRIMARY KEY,
	value          VARCHAR(40)   NOT NULL,
	name           VARCHAR(255)  NOT NULL,
	c_uom_id       NUMERIC(10)   NOT NULL,
	isactive       CHAR(1)       NOT NULL DEFAULT 'Y'
);

-- Stock per product, storage locator and attribute set instance (lot).
CREATE TABLE m_storage (
	m_product_id              NUMERIC(10)  NOT NULL,
	m_locator_id              NUMERIC(10)  NOT NULL,
	m_attributesetinstance_id NUMERIC(10)  NOT NULL DEFAULT 0,
	qtyonhand                 NUMERIC      NOT NULL DEFAULT 0,
	qtyreserved               NUMERIC      NOT NULL DEFAULT 0,
	qtyordered                NUMERIC      NOT NULL DEFAULT 0,
	datelastinventory         TIMESTAMP,
	isactive                  CHAR(1)      NOT NULL DEFAULT 'Y',
	updated                   TIMESTAMP    NOT NULL DEFAULT now(),
	PRIMARY KEY (m_product_id, m_locator_id, m_attributesetinstance_id)
);

-- Material receipts and shipments (one document type for both).
-- issotrx: Y customer shipment, N vendor receipt. movementtype: C- customer
-- shipment, V+ vendor receipt. docstatus: DR drafted, IP in progress (being
-- picked), WC waiting confirmation (packed, awaiting the pack
-- confirmation), CO completed (goods issued), CL closed (delivery
-- confirmed), VO voided, RE reversed, IN invalid. isintransit: Y once the
-- carrier scanned the parcels. c_currency_id: 100 USD, 102 EUR, 114 CHF.
CREATE TABLE m_inout (
	m_inout_id     NUMERIC(10)   PRIMARY KEY,
	documentno     VARCHAR(30)   NOT NULL,
	issotrx        CHAR(1)       NOT NULL DEFAULT 'Y',
	movementtype   CHAR(2)       NOT NULL,
	docstatus      CHAR(2)       NOT NULL DEFAULT 'DR',
	c_order_id     NUMERIC(10),
	c_bpartner_id  NUMERIC(10)   NOT NULL,
	m_warehouse_id NUMERIC(10)   NOT NULL,
	m_shipper_id   NUMERIC(10),
	trackingno     VARCHAR(60),
	isintransit    CHAR(1)       NOT NULL DEFAULT 'N',
	movementdate   TIMESTAMP     NOT NULL,
	shipdate       TIMESTAMP,
	freightamt     NUMERIC       NOT NULL DEFAULT 0,
	c_currency_id  NUMERIC(10)   NOT NULL DEFAULT 102,
	description    VARCHAR(255),
	updated        TIMESTAMP     NOT NULL DEFAULT now()
);

-- Shipment lines.
CREATE TABLE m_inoutline (
	m_inoutline_id NUMERIC(10)   PRIMARY KEY,
	m_inout_id     NUMERIC(10)   NOT NULL REFERENCES m_inout,
	line           NUMERIC(10)   NOT NULL,
	m_product_id   NUMERIC(10)   NOT NULL,
	m_locator_id   NUMERIC(10)   NOT NULL,
	movementqty    NUMERIC       NOT NULL,
	c_uom_id       NUMERIC(10)   NOT NULL
);

-- The mappings compare old and new quantities and document states.
ALTER TABLE m_storage REPLICA IDENTITY FULL;
ALTER TABLE m_inout REPLICA IDENTITY FULL;

INSERT INTO m_product VALUES
	(1000012, 'BOLT-M8X40', 'Hex bolt M8x40, zinc plated', 100, 'Y'),
	(1000013, 'NUT-M8',     'Hex nut M8',                   100, 'Y'),
	(1000031, 'CABLE-3X1.5','Cable NYM-J 3x1.5 mm²',        109, 'Y');
