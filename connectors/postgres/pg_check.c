/* pg_check.c — `waybill check` and `waybill status` for the PostgreSQL source.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_catalog.h"
#include "source.h"

static PGresult *one_row(PGconn *conn, const char *sql, int n,
			 const char *const *params, wb_error_t *err)
{
	PGresult *res = wb_pg_query(conn, sql, n, params, err);
	if (res && PQntuples(res) != 1) {
		PQclear(res);
		wb_error_set(err, WB_ERR_RUNTIME, "unexpected catalog answer");
		return NULL;
	}
	return res;
}

int wb_pg_check(struct wb_source *base, FILE *out, wb_error_t *err)
{
	const struct wb_config *cfg = base->cfg;
	struct wb_pg_catalog cat;
	int failed = 0;
	PGresult *res = NULL;

	if (wb_pg_catalog_open(&cat, cfg, err) != 0) {
		fprintf(out, "FAIL connect: %s\n", err->message);
		return 1;
	}
	PGconn *conn = cat.conn;
	fprintf(out, "ok connect: PostgreSQL %d on database %s as %s\n",
		PQserverVersion(conn) / 10000, PQdb(conn), PQuser(conn));

	res = one_row(
		conn,
		"SELECT current_setting('wal_level'), "
		"current_setting('max_replication_slots')::int, "
		"(SELECT count(*) FROM pg_replication_slots), "
		"current_setting('max_wal_senders')::int, "
		"(SELECT rolreplication OR rolsuper FROM pg_roles "
		" WHERE rolname = current_user), "
		"EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = "
		"$1), "
		"EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $2), "
		"has_database_privilege(current_database(), 'CREATE')",
		2, (const char *[]){cfg->source.slot, cfg->source.publication},
		err);
	if (res == NULL) {
		fprintf(out, "FAIL catalog: %s\n", err->message);
		wb_pg_catalog_close(&cat);
		return 1;
	}
	const char *wal_level = PQgetvalue(res, 0, 0);
	int max_slots = atoi(PQgetvalue(res, 0, 1));
	int used_slots = atoi(PQgetvalue(res, 0, 2));
	int max_senders = atoi(PQgetvalue(res, 0, 3));
	bool replication = PQgetvalue(res, 0, 4)[0] == 't';
	bool slot_exists = PQgetvalue(res, 0, 5)[0] == 't';
	bool pub_exists = PQgetvalue(res, 0, 6)[0] == 't';
	bool can_create = PQgetvalue(res, 0, 7)[0] == 't';

	if (strcmp(wal_level, "logical") == 0) {
		fprintf(out, "ok wal_level: logical\n");
	} else {
		fprintf(out,
			"FAIL wal_level: is %s; run ALTER SYSTEM SET wal_level "
			"= "
			"logical; and restart the server\n",
			wal_level);
		failed = 1;
	}
	if (slot_exists || used_slots < max_slots) {
		fprintf(out, "ok max_replication_slots: %d (%d in use)\n",
			max_slots, used_slots);
	} else {
		fprintf(out,
			"FAIL max_replication_slots: all %d in use; run ALTER "
			"SYSTEM SET max_replication_slots = %d; and restart "
			"the "
			"server\n",
			max_slots, max_slots + 4);
		failed = 1;
	}
	if (max_senders > 0) {
		fprintf(out, "ok max_wal_senders: %d\n", max_senders);
	} else {
		fprintf(out, "FAIL max_wal_senders: is 0; run ALTER SYSTEM SET "
			     "max_wal_senders = 10; and restart the server\n");
		failed = 1;
	}
	char *user =
		PQescapeIdentifier(conn, PQuser(conn), strlen(PQuser(conn)));
	if (replication) {
		fprintf(out, "ok privilege: %s may replicate\n", PQuser(conn));
	} else {
		fprintf(out,
			"FAIL privilege: %s lacks REPLICATION; run ALTER ROLE "
			"%s WITH REPLICATION;\n",
			PQuser(conn), user ? user : "");
		failed = 1;
	}
	PQclear(res);

	struct wb_pg_reltarget *t = NULL;
	int n = 0;
	if (wb_pg_resolve_tables(&cat, &t, &n, err) != 0) {
		fprintf(out, "FAIL tables: %s\n", err->message);
		failed = 1;
	} else {
		for (int i = 0; i < n; i++) {
			char *q = PQescapeIdentifier(conn, t[i].schema,
						     strlen(t[i].schema));
			char *r = PQescapeIdentifier(conn, t[i].name,
						     strlen(t[i].name));
			char oid[16];
			snprintf(oid, sizeof(oid), "%u", t[i].oid);
			wb_error_t e2;
			PGresult *p = one_row(
				conn,
				"SELECT has_table_privilege($1::oid, 'SELECT')",
				1, (const char *[]){oid}, &e2);
			bool can_select = p && PQgetvalue(p, 0, 0)[0] == 't';
			PQclear(p);
			if (!can_select) {
				fprintf(out,
					"FAIL table %s.%s: no SELECT "
					"privilege; run "
					"GRANT SELECT ON %s.%s TO %s;\n",
					t[i].schema, t[i].name, q, r,
					user ? user : "");
				failed = 1;
			} else if (!t[i].has_pk && t[i].replident != 'f' &&
				   t[i].replident != 'i') {
				fprintf(out,
					"FAIL table %s.%s: no primary key and "
					"no "
					"replica identity; run ALTER TABLE "
					"%s.%s "
					"REPLICA IDENTITY FULL;\n",
					t[i].schema, t[i].name, q, r);
				failed = 1;
			} else {
				fprintf(out, "ok table %s.%s%s\n", t[i].schema,
					t[i].name,
					t[i].has_pk ? ""
						    : " (replica identity, no "
						      "primary key)");
			}
			PQfreemem(q);
			PQfreemem(r);
		}
	}
	if (pub_exists) {
		fprintf(out, "ok publication: %s exists\n",
			cfg->source.publication);
	} else if (can_create) {
		fprintf(out,
			"ok publication: %s will be created (needs ownership "
			"of the tables)\n",
			cfg->source.publication);
	} else {
		char *list = NULL;
		size_t len = 0;
		FILE *m = open_memstream(&list, &len);
		for (int i = 0; m && i < n; i++)
			fprintf(m, "%s%s.%s", i ? ", " : "", t[i].schema,
				t[i].name);
		if (m)
			fclose(m);
		fprintf(out,
			"FAIL publication: %s does not exist and %s may not "
			"create it; as the tables' owner run CREATE "
			"PUBLICATION %s "
			"FOR TABLE %s;\n",
			cfg->source.publication, PQuser(conn),
			cfg->source.publication, list ? list : "...");
		free(list);
		failed = 1;
	}
	fprintf(out, "ok slot: %s %s\n", cfg->source.slot,
		slot_exists ? "exists" : "will be created");
	wb_pg_reltargets_free(t, n);
	PQfreemem(user);
	wb_pg_catalog_close(&cat);
	return failed;
}

int wb_pg_status(struct wb_source *base, const struct wb_source_resume *resume,
		 json_t *obj, wb_error_t *err)
{
	const struct wb_config *cfg = base->cfg;
	struct wb_pg_catalog cat;
	int rc = wb_pg_catalog_open(&cat, cfg, err);
	if (rc)
		return rc;
	PGresult *res = one_row(
		cat.conn,
		"SELECT CASE WHEN pg_is_in_recovery() THEN "
		"pg_last_wal_replay_lsn() "
		"ELSE pg_current_wal_lsn() END::text, "
		"s.confirmed_flush_lsn::text, s.restart_lsn::text, s.active "
		"FROM (SELECT 1) one LEFT JOIN pg_replication_slots s "
		"ON s.slot_name = $1",
		1, (const char *[]){cfg->source.slot}, err);
	if (res == NULL) {
		wb_pg_catalog_close(&cat);
		return err->code;
	}
	uint64_t current = 0, confirmed = 0;
	wb_pg_parse_lsn(PQgetvalue(res, 0, 0), &current);
	json_object_set_new(obj, "type", json_string("postgres"));
	json_object_set_new(obj, "current_lsn",
			    json_string(PQgetvalue(res, 0, 0)));
	json_t *slot = json_object();
	json_object_set_new(slot, "name", json_string(cfg->source.slot));
	if (PQgetisnull(res, 0, 1)) {
		json_object_set_new(slot, "exists", json_false());
	} else {
		wb_pg_parse_lsn(PQgetvalue(res, 0, 1), &confirmed);
		json_object_set_new(slot, "exists", json_true());
		json_object_set_new(slot, "confirmed_flush_lsn",
				    json_string(PQgetvalue(res, 0, 1)));
		json_object_set_new(
			slot, "restart_lsn",
			json_string(PQgetisnull(res, 0, 2)
					    ? ""
					    : PQgetvalue(res, 0, 2)));
		json_object_set_new(
			slot, "active",
			json_boolean(PQgetvalue(res, 0, 3)[0] == 't'));
	}
	json_object_set_new(obj, "slot", slot);
	uint64_t base_lsn = resume->have ? resume->ack : confirmed;
	json_object_set_new(
		obj, "lag_bytes",
		json_integer(current > base_lsn
				     ? (json_int_t)(current - base_lsn)
				     : 0));
	PQclear(res);
	wb_pg_catalog_close(&cat);
	return WB_OK;
}
