-- tools/sample/wms_burst.sql — a morning in the warehouse, applied by
-- tools/quickstart while waybill captures: one transaction per business step.
-- Values are fixed (no now()) so every run produces the same events.

-- 1. Goods received against PO-4711: two movements, one existing and one
--    new balance (a new article), an audit entry.
BEGIN;
INSERT INTO stock_move (move_type, warehouse, sku, from_bin, to_bin, qty, ref_doc, created_ts, created_by)
VALUES ('GR', 'WH01', 'BOLT-M8X40', NULL, 'A-01-03', 600.000, 'PO-4711', '2024-03-05 06:58:12', 'RECV01'),
       ('GR', 'WH01', 'HINGE-90',   NULL, 'D-02-07',  48.000, 'PO-4711', '2024-03-05 06:58:40', 'RECV01');
UPDATE stock_balance SET qty_on_hand = qty_on_hand + 600.000, last_move_ts = '2024-03-05 06:58:12'
 WHERE warehouse = 'WH01' AND sku = 'BOLT-M8X40';
INSERT INTO stock_balance (warehouse, sku, bin_code, qty_on_hand, uom, last_move_ts)
VALUES ('WH01', 'HINGE-90', 'D-02-07', 48.000, 'PCE', '2024-03-05 06:58:40');
INSERT INTO stock_audit VALUES ('2024-03-05 06:58:41', 'RECV01', 'I', 'PO-4711', 'goods receipt, 2 lines');
COMMIT;

-- 2. Cable moved to a bin nearer the packing station.
BEGIN;
INSERT INTO stock_move (move_type, warehouse, sku, from_bin, to_bin, qty, ref_doc, created_ts, created_by)
VALUES ('TR', 'WH01', 'CABLE-3X1.5', 'C-04-01', 'P-00-02', 250.500, NULL, '2024-03-05 07:31:05', 'FORK03');
UPDATE stock_balance SET bin_code = 'P-00-02', last_move_ts = '2024-03-05 07:31:05'
 WHERE warehouse = 'WH01' AND sku = 'CABLE-3X1.5';
COMMIT;

-- 3. Order shipped: shipment with three lines, goods issued, balances down.
BEGIN;
INSERT INTO shipment (shipment_no, customer_no, warehouse, status, carrier, ship_date, shipped_at, weight_kg, remarks)
VALUES ('SH24-000815', 'C-10042', 'WH01', 'SH', 'DHL ', '2024-03-05', '2024-03-05 10:42:00+01', 61.250,
        'deliver to gate 3; call ahead');
INSERT INTO shipment_line VALUES
	('SH24-000815', 1, 'BOLT-M8X40',  400.000, 0.12),
	('SH24-000815', 2, 'NUT-M8',      400.000, 0.04),
	('SH24-000815', 3, 'CABLE-3X1.5',  75.250, 1.89);
INSERT INTO stock_move (move_type, warehouse, sku, from_bin, to_bin, qty, ref_doc, created_ts, created_by)
VALUES ('GI', 'WH01', 'BOLT-M8X40',  'A-01-03', NULL, 400.000, 'SH24-000815', '2024-03-05 10:41:10', 'PACK02'),
       ('GI', 'WH01', 'NUT-M8',      'A-01-04', NULL, 400.000, 'SH24-000815', '2024-03-05 10:41:10', 'PACK02'),
       ('GI', 'WH01', 'CABLE-3X1.5', 'P-00-02', NULL,  75.250, 'SH24-000815', '2024-03-05 10:41:11', 'PACK02');
UPDATE stock_balance SET qty_on_hand = qty_on_hand - 400.000, last_move_ts = '2024-03-05 10:41:10'
 WHERE warehouse = 'WH01' AND sku IN ('BOLT-M8X40', 'NUT-M8');
UPDATE stock_balance SET qty_on_hand = qty_on_hand - 75.250, last_move_ts = '2024-03-05 10:41:11'
 WHERE warehouse = 'WH01' AND sku = 'CABLE-3X1.5';
INSERT INTO stock_audit VALUES ('2024-03-05 10:42:03', 'PACK02', 'I', 'SH24-000815', 'shipped, 3 lines');
COMMIT;

-- 4. Carrier reports delivery and bills freight and fuel surcharge.
BEGIN;
UPDATE shipment SET status = 'DL', delivered_at = '2024-03-05 16:05:30+01'
 WHERE shipment_no = 'SH24-000815';
INSERT INTO freight_charge (shipment_no, charge_code, amount, currency, invoice_no, booked_ts)
VALUES ('SH24-000815', 'FRT', 48.90, 'EUR', 'DHL-2024-031177', '2024-03-05 16:10:00'),
       ('SH24-000815', 'FSC',  7.34, 'EUR', 'DHL-2024-031177', '2024-03-05 16:10:00');
COMMIT;

-- 5. Correction: the customer got 380 bolts, not 400, and the nuts line was
--    booked by mistake (they went out on another order). Quantities and
--    balances are put right, the wrong line and its movement reversed, the
--    audit entry of the shipment annotated.
BEGIN;
UPDATE shipment_line SET qty = 380.000 WHERE shipment_no = 'SH24-000815' AND line_no = 1;
DELETE FROM shipment_line WHERE shipment_no = 'SH24-000815' AND line_no = 2;
UPDATE stock_move SET status = 'RV' WHERE ref_doc = 'SH24-000815' AND sku = 'NUT-M8';
INSERT INTO stock_move (move_type, warehouse, sku, from_bin, to_bin, qty, ref_doc, created_ts, created_by)
VALUES ('AD', 'WH01', 'BOLT-M8X40', NULL, 'A-01-03', 20.000, 'CORR-0093', '2024-03-05 17:20:00', 'INVCTL');
UPDATE stock_balance SET qty_on_hand = qty_on_hand + 20.000, last_move_ts = '2024-03-05 17:20:00'
 WHERE warehouse = 'WH01' AND sku = 'BOLT-M8X40';
UPDATE stock_balance SET qty_on_hand = qty_on_hand + 400.000, last_move_ts = '2024-03-05 17:20:00'
 WHERE warehouse = 'WH01' AND sku = 'NUT-M8';
UPDATE stock_audit SET detail = detail || ' (corrected by CORR-0093)'
 WHERE object_ref = 'SH24-000815';
INSERT INTO stock_audit VALUES ('2024-03-05 17:20:05', 'INVCTL', 'C', 'CORR-0093', 'SH24-000815 line 1 400->380, line 2 removed');
COMMIT;
