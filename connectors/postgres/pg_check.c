/* pg_check.c — `waybill check` and `waybill status` for the PostgreSQL source.
 *
 * Besides server settings and privileges, both compare the checkpoint with
 * the slot: a slot that is missing, invalidated (wal_status 'lost') or
 * confirmed past the checkpoint's flush_lsn means changes the pipeline
 * never wrote are gone from the slot; that is a failure, reported with the
 * LSN range at risk and the ways out. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checkpoint.h"
#include "pg_catalog.h"
#include "pg_slot.h"
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

/* "a"."b", "c"."d" for the tables of t that need[i] (all when need is
 * NULL); malloc'd, NULL when out of memory. */
static char *table_list(PGconn *conn, const struct wb_pg_reltarget *t, int n,
			const bool *need)
{
	char *list = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&list, &len);
	if (m == NULL)
		return NULL;
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (need && !need[i])
			continue;
		char *q = PQescapeIdentifier(conn, t[i].schema,
					     strlen(t[i].schema));
		char *r =
			PQescapeIdentifier(conn, t[i].name, strlen(t[i].name));
		fprintf(m, "%s%s.%s", k++ ? ", " : "", q ? q : "?",
			r ? r : "?");
		PQfreemem(q);
		PQfreemem(r);
	}
	if (fclose(m) != 0) {
		free(list);
		return NULL;
	}
	return list;
}

/* The publication holds every captured table, or waybill may create or
 * extend it (which needs ownership of the publication and of the tables);
 * otherwise FAIL with the exact statement for the owner to run. */
static int check_publication(PGconn *conn, const struct wb_config *cfg,
			     const struct wb_pg_reltarget *t, int n,
			     bool pub_exists, bool can_create, FILE *out)
{
	const char *pub = cfg->source.publication;
	char *qpub = PQescapeIdentifier(conn, pub, strlen(pub));
	bool *missing = calloc((size_t)n + 1, sizeof(*missing));
	bool *owned = calloc((size_t)n + 1, sizeof(*owned));
	char *list = NULL;
	int failed = 0, nmissing = 0;
	bool own_all = true, own_pub = false, all_tables = false;
	bool via_root = false, any_partitioned = false;
	wb_error_t e;
	if (qpub == NULL || missing == NULL || owned == NULL) {
		fprintf(out, "FAIL publication: out of memory\n");
		failed = 1;
		goto done;
	}
	/* what the publication covers, table by table, and what we own */
	PGresult *res = wb_pg_query(
		conn,
		"SELECT coalesce((SELECT puballtables FROM pg_publication "
		"WHERE pubname = $1), false), "
		"coalesce((SELECT pg_has_role(pubowner, 'USAGE') FROM "
		"pg_publication WHERE pubname = $1), false), "
		"coalesce((SELECT pubviaroot FROM pg_publication "
		"WHERE pubname = $1), false)",
		1, (const char *[]){pub}, &e);
	if (res == NULL) {
		fprintf(out, "FAIL publication: %s\n", e.message);
		failed = 1;
		goto done;
	}
	all_tables = PQgetvalue(res, 0, 0)[0] == 't';
	own_pub = PQgetvalue(res, 0, 1)[0] == 't';
	via_root = PQgetvalue(res, 0, 2)[0] == 't';
	PQclear(res);
	for (int i = 0; i < n; i++)
		any_partitioned |= t[i].partitioned;
	bool in_schema = PQserverVersion(conn) >= 150000;
	for (int i = 0; i < n; i++) {
		char oid[16];
		snprintf(oid, sizeof(oid), "%u", t[i].oid);
		res = wb_pg_query(
			conn,
			in_schema
				? "SELECT pg_has_role(c.relowner, 'USAGE'), "
				  "EXISTS (SELECT 1 FROM pg_publication_rel r "
				  "JOIN pg_publication p ON p.oid = r.prpubid "
				  "WHERE p.pubname = $2 AND r.prrelid = c.oid) "
				  "OR EXISTS (SELECT 1 FROM "
				  "pg_publication_namespace s JOIN "
				  "pg_publication p ON p.oid = s.pnpubid WHERE "
				  "p.pubname = $2 AND s.pnnspid = "
				  "c.relnamespace) "
				  "FROM pg_class c WHERE c.oid = $1::oid"
				: "SELECT pg_has_role(c.relowner, 'USAGE'), "
				  "EXISTS (SELECT 1 FROM pg_publication_rel r "
				  "JOIN pg_publication p ON p.oid = r.prpubid "
				  "WHERE p.pubname = $2 AND r.prrelid = c.oid) "
				  "FROM pg_class c WHERE c.oid = $1::oid",
			2, (const char *[]){oid, pub}, &e);
		if (res == NULL || PQntuples(res) != 1) {
			fprintf(out, "FAIL publication: %s\n",
				res ? "unexpected catalog answer" : e.message);
			PQclear(res);
			failed = 1;
			goto done;
		}
		owned[i] = PQgetvalue(res, 0, 0)[0] == 't';
		missing[i] = !all_tables && PQgetvalue(res, 0, 1)[0] != 't';
		PQclear(res);
		own_all &= owned[i];
		nmissing += missing[i];
	}
	if (!pub_exists) {
		list = table_list(conn, t, n, NULL);
		if (can_create && own_all) {
			fprintf(out,
				"ok publication: %s will be created for the "
				"%d captured table%s\n",
				pub, n, n == 1 ? "" : "s");
		} else {
			fprintf(out,
				"FAIL publication: %s does not exist and %s "
				"may not create it (%s); as the tables' owner "
				"run CREATE PUBLICATION %s FOR TABLE %s WITH "
				"(publish_via_partition_root = true);\n",
				pub, PQuser(conn),
				can_create ? "it must own every captured table"
					   : "no CREATE privilege on the "
					     "database",
				qpub, list ? list : "...");
			failed = 1;
		}
	} else if (nmissing == 0) {
		fprintf(out, "ok publication: %s holds every captured table\n",
			pub);
	} else {
		list = table_list(conn, t, n, missing);
		bool own_missing = true;
		for (int i = 0; i < n; i++)
			own_missing &= !missing[i] || owned[i];
		if (own_pub && own_missing) {
			fprintf(out,
				"ok publication: %s lacks %s; waybill adds "
				"%s when it starts\n",
				pub, list ? list : "...",
				nmissing == 1 ? "it" : "them");
		} else {
			fprintf(out,
				"FAIL publication: %s lacks %s and %s may not "
				"add %s (that needs ownership of the "
				"publication and of the table); as the "
				"owner run ALTER PUBLICATION %s ADD TABLE "
				"%s;\n",
				pub, list ? list : "...", PQuser(conn),
				nmissing == 1 ? "it" : "them", qpub,
				list ? list : "...");
			failed = 1;
		}
	}
	/* partitioned tables are captured as their root (one series) */
	if (pub_exists && any_partitioned && !via_root && !own_pub) {
		fprintf(out,
			"FAIL publication: %s publishes partitioned tables "
			"through their partitions (publish_via_partition_root "
			"is off) and %s may not change it; as the owner run "
			"ALTER PUBLICATION %s SET (publish_via_partition_root "
			"= true);\n",
			pub, PQuser(conn), qpub);
		failed = 1;
	} else if (pub_exists && any_partitioned && !via_root) {
		fprintf(out,
			"ok publication: waybill sets "
			"publish_via_partition_root on %s when it starts\n",
			pub);
	}
done:
	free(list);
	free(missing);
	free(owned);
	PQfreemem(qpub);
	return failed;
}

/* Whether a checkpoint exists, and the LSN up to which it holds every
 * change: its ack (flush_lsn), or, for a checkpoint holding only snapshot
 * rows at (P - 1, n) and no ack, P (as the source decides at start). */
static int load_ack(struct wb_source *base, bool *have, uint64_t *ack,
		    wb_error_t *err)
{
	const struct wb_config *cfg = base->cfg;
	struct wb_checkpoint cp;
	int rc = wb_checkpoint_load(cfg->checkpoint_dir, cfg->name, base->ops,
				    &cp, err);
	if (rc != 0)
		return rc;
	*have = cp.have;
	*ack = wb_pg_slot_checkpoint_ack(cp.have, cp.ack, &cp.pos);
	wb_checkpoint_clear(&cp);
	return WB_OK;
}

/* The slot against the checkpoint (see slot_problem). */
static int check_slot(PGconn *conn, struct wb_source *base, FILE *out)
{
	const struct wb_config *cfg = base->cfg;
	struct wb_pg_slot v;
	bool have = false;
	uint64_t ack = 0;
	wb_error_t e;
	/* the slot first: a running pipeline confirms only what its
	 * checkpoint already holds, so a checkpoint read after the slot is at
	 * or past the slot's confirmed_flush_lsn */
	if (wb_pg_slot_read(conn, cfg->source.slot, &v, &e) != 0) {
		fprintf(out, "FAIL slot: %s\n", e.message);
		return 1;
	}
	if (load_ack(base, &have, &ack, &e) != 0) {
		fprintf(out, "FAIL slot: %s\n", e.message);
		return 1;
	}
	if (v.foreign) {
		fprintf(out,
			"FAIL slot: %s exists but is not a pgoutput slot of "
			"database %s; choose another source.slot\n",
			cfg->source.slot, PQdb(conn));
		return 1;
	}
	char problem[1400];
	const char *state = wb_pg_slot_problem(cfg, have, ack, &v, problem,
					       sizeof(problem));
	if (strcmp(state, "ok") != 0) {
		fprintf(out, "FAIL slot: %s\n", problem);
		return 1;
	}
	if (!v.exists)
		fprintf(out, "ok slot: %s will be created\n", cfg->source.slot);
	else if (strcmp(v.wal_status, "unreserved") == 0)
		fprintf(out,
			"ok slot: %s exists (wal_status unreserved: it holds "
			"more WAL than max_slot_wal_keep_size allows and is "
			"invalidated at the next checkpoint unless waybill "
			"catches up)\n",
			cfg->source.slot);
	else
		fprintf(out, "ok slot: %s exists%s\n", cfg->source.slot,
			have ? " and continues the checkpoint" : "");
	return 0;
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
	if (check_publication(conn, cfg, t, n, pub_exists, can_create, out) !=
	    0)
		failed = 1;
	if (check_slot(conn, base, out) != 0)
		failed = 1;
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
	struct wb_pg_slot v;
	if (wb_pg_slot_read(cat.conn, cfg->source.slot, &v, err) != 0) {
		json_decref(slot);
		PQclear(res);
		wb_pg_catalog_close(&cat);
		return err->code;
	}
	if (v.wal_status[0])
		json_object_set_new(slot, "wal_status",
				    json_string(v.wal_status));
	/* the checkpoint again, read after the slot (see check_slot) */
	bool have = resume->have;
	uint64_t ack = resume->ack;
	wb_error_t e;
	if (load_ack(base, &have, &ack, &e) != 0) {
		have = resume->have;
		ack = resume->ack;
	}
	char problem[1400];
	const char *state = wb_pg_slot_problem(cfg, have, ack, &v, problem,
					       sizeof(problem));
	json_object_set_new(slot, "state", json_string(state));
	json_object_set_new(obj, "slot", slot);
	/* the core prints the status, then this on stderr, and exits 1 */
	if (problem[0])
		json_object_set_new(obj, "problem", json_string(problem));
	/* Lag is measured from the checkpoint, or from where the slot
	 * stands; before the first run there is neither, and nothing is
	 * behind: null, not the whole WAL. */
	uint64_t base_lsn =
		resume->have ? wb_pg_slot_checkpoint_ack(true, resume->ack,
							 &resume->pos)
			     : confirmed;
	if (base_lsn == 0)
		json_object_set_new(obj, "lag_bytes", json_null());
	else
		json_object_set_new(
			obj, "lag_bytes",
			json_integer(current > base_lsn
					     ? (json_int_t)(current - base_lsn)
					     : 0));
	PQclear(res);
	wb_pg_catalog_close(&cat);
	return WB_OK;
}
