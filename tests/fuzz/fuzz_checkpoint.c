/* fuzz_checkpoint.c — fuzz target for the checkpoint file parser
 * (wb_checkpoint_parse) with the PostgreSQL source's ops, and for the
 * snapshot progress restored from a checkpoint's "source" state.
 *
 * Input: the bytes of a checkpoint file (from an exact-size copy, so a read
 * past them is a heap overflow). On success:
 *   - the position and ack read back: formatted and parsed again they give
 *     the same values, and saving that checkpoint and parsing the text
 *     wb_checkpoint_save would write gives the same checkpoint (done here
 *     through the same JSON the save builds, without I/O);
 *   - a "source" state with a "snapshot" object is restored into a snapshot
 *     tracker (wb_pg_snapshot_restore), and its state() restored again
 *     writes back the same state: what a restart reads is what the
 *     checkpoint before it said.
 * On failure cp is empty. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "checkpoint.h"
#include "config.h"
#include "pg_snapshot.h"
#include "source.h"

/* json_equal() is false when either is NULL. */
static bool same_json(json_t *a, json_t *b)
{
	return (a == NULL && b == NULL) || (a && b && json_equal(a, b));
}

static void die(const char *what)
{
	fprintf(stderr, "fuzz_checkpoint: %s\n", what);
	abort();
}

/* restore(state) into a fresh tracker, then state(); NULL if it has none. */
static json_t *snapshot_round(json_t *state)
{
	struct wb_config cfg;
	memset(&cfg, 0, sizeof(cfg));
	cfg.source.snapshot_parallelism = 3;
	struct wb_pg_snapshot *sn = wb_pg_snapshot_new(&cfg);
	if (sn == NULL)
		return NULL;
	wb_error_t err = {0};
	json_t *out = NULL;
	if (wb_pg_snapshot_restore(sn, state, &err) == WB_OK)
		out = wb_pg_snapshot_state(sn);
	wb_pg_snapshot_free(sn);
	return out;
}

static void check_snapshot(json_t *source)
{
	json_t *st = json_object_get(source, "snapshot");
	if (!json_is_object(st))
		return;
	json_t *once = snapshot_round(st);
	if (once == NULL)
		return;
	json_t *twice = snapshot_round(once);
	if (twice == NULL || !json_equal(once, twice)) {
		char *a = json_dumps(once, JSON_SORT_KEYS | JSON_COMPACT);
		char *b =
			twice ? json_dumps(twice, JSON_SORT_KEYS | JSON_COMPACT)
			      : NULL;
		fprintf(stderr, "restored once:  %s\nrestored twice: %s\n",
			a ? a : "?", b ? b : "(none)");
		free(a);
		free(b);
		die("snapshot progress does not survive a second restore");
	}
	json_decref(once);
	json_decref(twice);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct wb_source_ops *ops = &wb_pg_source_ops;
	char *text = malloc(size ? size : 1);
	if (text == NULL)
		return 0;
	memcpy(text, data, size);
	struct wb_checkpoint cp;
	wb_error_t err = {0};
	int rc = wb_checkpoint_parse(text, size, ops, &cp, &err);
	free(text);
	if (rc != WB_OK) {
		if (cp.have || cp.sink || cp.source)
			die("a failed parse left a checkpoint behind");
		if (err.message[0] == '\0')
			die("a failed parse without a message");
		return 0;
	}
	if (!cp.have)
		die("parsed without cp.have");

	/* What wb_checkpoint_save would write for this checkpoint parses back
	 * to the same one. */
	char pos[64], ack[64];
	ops->format_position(&cp.pos, pos, sizeof(pos));
	ops->format_ack(cp.ack, ack, sizeof(ack));
	json_t *root =
		json_pack("{s:i,s:s,s:s,s:s,s:O,s:O}", "version", 1, "position",
			  pos, ops->ack_name, ack, "time", cp.time, "source",
			  cp.source ? cp.source : json_null(), "sink",
			  cp.sink ? cp.sink : json_null());
	char *saved =
		root ? json_dumps(root, JSON_INDENT(1) | JSON_PRESERVE_ORDER)
		     : NULL;
	json_decref(root);
	if (saved != NULL) {
		struct wb_checkpoint again;
		if (wb_checkpoint_parse(saved, strlen(saved), ops, &again,
					&err) != WB_OK) {
			fprintf(stderr, "%s\n%s\n", err.message, saved);
			die("a saved checkpoint does not parse");
		}
		if (wb_position_cmp(&again.pos, &cp.pos) != 0 ||
		    again.ack != cp.ack || strcmp(again.time, cp.time) != 0 ||
		    !same_json(again.sink, cp.sink) ||
		    !same_json(again.source, cp.source))
			die("a saved checkpoint parses to another one");
		wb_checkpoint_clear(&again);
		free(saved);
	}

	if (cp.source)
		check_snapshot(cp.source);
	wb_checkpoint_clear(&cp);
	return 0;
}
