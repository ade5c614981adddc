/* pg_oids.h — OIDs of the builtin PostgreSQL types waybill knows by number
 * (pg_type.oid; fixed across server versions). */
#ifndef WB_PG_OIDS_H
#define WB_PG_OIDS_H

enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_CHAR = 18,
	OID_NAME = 19,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_JSON = 114,
	OID_XML = 142,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_BPCHAR = 1042,
	OID_VARCHAR = 1043,
	OID_DATE = 1082,
	OID_TIME = 1083,
	OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184,
	OID_NUMERIC = 1700,
	OID_UUID = 2950,
	OID_JSONB = 3802,
};

#endif
