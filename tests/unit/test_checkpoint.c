/* test_checkpoint.c — checkpoint files round-trip, are replaced atomically, and
 * lock. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "source.h"

#define CHECK(cond)                                                            \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
				__LINE__, #cond);                              \
			exit(1);                                               \
		}                                                              \
	} while (0)

/* wb_checkpoint_parse on text: 0 and the checkpoint, or the error with a
 * message containing `why` and nothing left in cp. */
static void parse_fails(const char *text, const char *why)
{
	struct wb_checkpoint cp;
	wb_error_t err = {0};
	int rc = wb_checkpoint_parse(text, strlen(text), &wb_pg_source_ops, &cp,
				     &err);
	if (rc == 0 || strstr(err.message, why) == NULL)
		fprintf(stderr, "text: %s\nrc %d, message: %s\n", text, rc,
			err.message);
	CHECK(rc == WB_ERR_RUNTIME);
	CHECK(strstr(err.message, why) != NULL);
	CHECK(!cp.have && cp.sink == NULL && cp.source == NULL);
}

static void test_parse(void)
{
	const struct wb_source_ops *ops = &wb_pg_source_ops;
	struct wb_checkpoint cp;
	wb_error_t err = {0};

	/* not NUL-terminated: only len bytes are read */
	const char ok[] = "{\"version\": 1, \"position\": \"0/16b3748:3\", "
			  "\"flush_lsn\": \"A/FF\", \"sink\": {\"x\": 1}, "
			  "\"source\": null}garbage";
	CHECK(wb_checkpoint_parse(ok, sizeof(ok) - 1 - strlen("garbage"), ops,
				  &cp, &err) == 0);
	CHECK(cp.have && cp.pos.major == 0x16B3748 && cp.pos.minor == 3);
	CHECK(cp.ack == 0xA000000FFULL);
	CHECK(cp.source == NULL && json_is_object(cp.sink));
	CHECK(cp.time[0] == '\0');
	wb_checkpoint_clear(&cp);

	const char *head = "{\"version\": 1, \"flush_lsn\": \"0/10\", ";
	char text[512];
	/* positions that parse to something else than they say */
	const char *bad_pos[] = {"0/10:-1",  "0/10:+3",
				 " 0/10:3",  "0/10: 3",
				 "0/10:03",  "0/10:18446744073709551616",
				 "0x0/10:3", "-1/10:3",
				 "00/10:3",  "0/10:3 "};
	for (size_t i = 0; i < sizeof(bad_pos) / sizeof(bad_pos[0]); i++) {
		snprintf(text, sizeof(text), "%s\"position\": \"%s\"}", head,
			 bad_pos[i]);
		parse_fails(text, "no valid position");
	}
	parse_fails("{\"version\": 1, \"position\": \"0/10:1\", "
		    "\"flush_lsn\": \"-0/10\"}",
		    "no valid flush_lsn");
	parse_fails("{\"version\": 1, \"position\": \"0/10:1\", "
		    "\"flush_lsn\": \"+0/10\"}",
		    "no valid flush_lsn");
	parse_fails("{\"version\": 1, \"position\": \"0/10:1\"}",
		    "no valid position/flush_lsn");
	/* a version this waybill does not know, or none */
	parse_fails("{\"version\": 2, \"position\": \"0/10:1\", "
		    "\"flush_lsn\": \"0/10\"}",
		    "\"version\": 1");
	parse_fails("{\"position\": \"0/10:1\", \"flush_lsn\": \"0/10\"}",
		    "\"version\": 1");
	/* shapes */
	parse_fails("[1]", "not a JSON object");
	parse_fails("", "corrupt");
	parse_fails("{\"version\": 1, \"position\": \"0/10:1\", "
		    "\"position\": \"0/20:1\", \"flush_lsn\": \"0/10\"}",
		    "corrupt");
	parse_fails("{\"version\": 1, \"position\": \"0/10:1\", "
		    "\"flush_lsn\": \"0/10\", \"sink\": [1]}",
		    "corrupt");
	parse_fails("{\"version\": 1, \"position\": \"0/10:1\", "
		    "\"flush_lsn\": \"0/10\", \"source\": \"x\"}",
		    "corrupt");
	parse_fails("{\"version\": 1, \"position\": \"0/10:1\", "
		    "\"flush_lsn\": \"0/10\", \"time\": 5}",
		    "corrupt");
	/* the commit marker */
	snprintf(text, sizeof(text), "%s\"position\": \"0/10:end\"}", head);
	CHECK(wb_checkpoint_parse(text, strlen(text), ops, &cp, &err) == 0);
	char back[64];
	ops->format_position(&cp.pos, back, sizeof(back));
	CHECK(strcmp(back, "0/10:end") == 0);
	wb_checkpoint_clear(&cp);
}

/* A pending commit's state: written beside the durable one, read back
 * exactly, checked like the rest. */
static void test_pending(const char *dir)
{
	const struct wb_source_ops *ops = &wb_pg_source_ops;
	wb_error_t err = {0};
	struct wb_checkpoint cp;
	wb_position_t pos = {0x100, 7}, ppos = {0x200, UINT64_MAX};
	json_t *src = json_pack("{s:i}", "rows", 10);
	json_t *psrc = json_pack("{s:i}", "rows", 25);
	json_t *where = json_pack("{s:s,s:i,s:s}", "topic", "t.public.x",
				  "partition", 3, "position", "0/200:end");
	CHECK(wb_checkpoint_save_pending(dir, "pp", ops, &pos, 0x90, src, NULL,
					 &ppos, psrc, NULL, where, &err) == 0);
	CHECK(wb_checkpoint_load(dir, "pp", ops, &cp, &err) == 0);
	CHECK(cp.have && cp.pos.major == 0x100 && cp.pos.minor == 7);
	CHECK(cp.ack == 0x90);
	CHECK(json_integer_value(json_object_get(cp.source, "rows")) == 10);
	CHECK(cp.have_pending && cp.pending_pos.major == 0x200 &&
	      cp.pending_pos.minor == UINT64_MAX);
	CHECK(json_integer_value(json_object_get(cp.pending_source, "rows")) ==
	      25);
	CHECK(cp.pending_sink == NULL);
	CHECK(json_equal(cp.pending_where, where));
	wb_checkpoint_clear(&cp);
	/* a plain save drops it */
	CHECK(wb_checkpoint_save(dir, "pp", ops, &ppos, 0x90, psrc, NULL,
				 &err) == 0);
	CHECK(wb_checkpoint_load(dir, "pp", ops, &cp, &err) == 0);
	CHECK(cp.have && !cp.have_pending && cp.pending_where == NULL);
	wb_checkpoint_clear(&cp);
	json_decref(src);
	json_decref(psrc);
	json_decref(where);

	const char *head = "{\"version\": 1, \"position\": \"0/10:1\", "
			   "\"flush_lsn\": \"0/10\", \"pending\": ";
	char text[512];
	const char *bad[] = {
		"5}",
		"{\"source\": null, \"sink\": null, \"where\": {}}}",
		"{\"position\": \"0/20:03\", \"where\": {}}}",
		"{\"position\": \"0/20:3\"}}",
		"{\"position\": \"0/20:3\", \"where\": {}, \"source\": 1}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "%s%s", head, bad[i]);
		parse_fails(text, "pending");
	}
	snprintf(text, sizeof(text), "%snull}", head);
	CHECK(wb_checkpoint_parse(text, strlen(text), ops, &cp, &err) == 0);
	CHECK(cp.have && !cp.have_pending);
	wb_checkpoint_clear(&cp);
}

/* The checkpoint writer: one save at a time, its result reported once,
 * the file as wb_checkpoint_save writes it; the caller's objects may
 * change as soon as the save is started. */
static void test_writer(const char *dir)
{
	const struct wb_source_ops *ops = &wb_pg_source_ops;
	wb_error_t err = {0};
	struct wb_checkpoint cp;
	int rc = -1;
	struct wb_checkpoint_writer *w =
		wb_checkpoint_writer_new(dir, "w1", &err);
	CHECK(w != NULL);
	CHECK(!wb_checkpoint_writer_busy(w));
	CHECK(!wb_checkpoint_writer_done(w, 0, &rc, &err)); /* none started */

	wb_position_t pos = {0x2000, 4};
	json_t *state = json_pack("{s:i}", "seq", 3);
	CHECK(wb_checkpoint_writer_start(w, ops, &pos, 0x2010, NULL, state,
					 &err) == 0);
	json_object_set_new(state, "seq", json_integer(99)); /* not saved */
	CHECK(wb_checkpoint_writer_busy(w));
	/* a second save before the first is reported is refused */
	CHECK(wb_checkpoint_writer_start(w, ops, &pos, 0x2010, NULL, state,
					 &err) == WB_ERR_RUNTIME);
	CHECK(wb_checkpoint_writer_done(w, -1, &rc, &err) && rc == 0);
	CHECK(!wb_checkpoint_writer_busy(w));
	CHECK(!wb_checkpoint_writer_done(w, 0, &rc, &err)); /* reported once */
	CHECK(wb_checkpoint_load(dir, "w1", ops, &cp, &err) == 0 && cp.have);
	CHECK(cp.pos.major == 0x2000 && cp.pos.minor == 4 && cp.ack == 0x2010);
	CHECK(json_integer_value(json_object_get(cp.sink, "seq")) == 3);
	wb_checkpoint_clear(&cp);

	/* the next one replaces it */
	pos.minor = 5;
	CHECK(wb_checkpoint_writer_start(w, ops, &pos, 0x2020, NULL, state,
					 &err) == 0);
	CHECK(wb_checkpoint_writer_done(w, 10000, &rc, &err) && rc == 0);
	CHECK(wb_checkpoint_load(dir, "w1", ops, &cp, &err) == 0);
	CHECK(cp.pos.minor == 5 && cp.ack == 0x2020);
	CHECK(json_integer_value(json_object_get(cp.sink, "seq")) == 99);
	wb_checkpoint_clear(&cp);
	json_decref(state);

	/* freeing with a save started and not reported waits for it */
	pos.minor = 6;
	CHECK(wb_checkpoint_writer_start(w, ops, &pos, 0x2030, NULL, NULL,
					 &err) == 0);
	wb_checkpoint_writer_free(w);
	CHECK(wb_checkpoint_load(dir, "w1", ops, &cp, &err) == 0);
	CHECK(cp.pos.minor == 6 && cp.ack == 0x2030);
	wb_checkpoint_clear(&cp);
	wb_checkpoint_writer_free(NULL);

	/* a failed save is reported with its error */
	char bad[300];
	snprintf(bad, sizeof(bad), "%s/no/such/dir", dir);
	w = wb_checkpoint_writer_new(bad, "w2", &err);
	CHECK(w != NULL);
	CHECK(wb_checkpoint_writer_start(w, ops, &pos, 1, NULL, NULL, &err) ==
	      0);
	CHECK(wb_checkpoint_writer_done(w, -1, &rc, &err) && rc == WB_ERR_IO);
	CHECK(strstr(err.message, "cannot write checkpoint") != NULL);
	wb_checkpoint_writer_free(w);
}

int main(void)
{
	test_parse();

	char dir[] = "/tmp/wb-ckpt-XXXXXX";
	CHECK(mkdtemp(dir) != NULL);
	char sub[256];
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	const struct wb_source_ops *ops = &wb_pg_source_ops;
	wb_error_t err;
	struct wb_checkpoint cp;

	/* the lock creates the directory and excludes a second holder */
	int fd = wb_checkpoint_lock(sub, "p1", &err);
	CHECK(fd >= 0);
	CHECK(wb_checkpoint_lock(sub, "p1", &err) == -1);
	CHECK(strstr(err.message, "already running") != NULL);

	CHECK(wb_checkpoint_load(sub, "p1", ops, &cp, &err) == 0 && !cp.have);
	test_pending(sub);
	test_writer(sub);

	wb_position_t pos = {0x16B3748, 3};
	json_t *state = json_pack("{s:{s:i}}", "series", "seq", 7);
	CHECK(wb_checkpoint_save(sub, "p1", ops, &pos, 0x16B37A0, NULL, state,
				 &err) == 0);
	json_decref(state);
	CHECK(wb_checkpoint_load(sub, "p1", ops, &cp, &err) == 0 && cp.have);
	CHECK(cp.pos.major == 0x16B3748 && cp.pos.minor == 3);
	CHECK(cp.ack == 0x16B37A0);
	CHECK(json_integer_value(json_object_get(
		      json_object_get(cp.sink, "series"), "seq")) == 7);
	wb_checkpoint_clear(&cp);

	/* the text form is the database's: LSN and ordinal */
	char path[300], text[4096];
	snprintf(path, sizeof(path), "%s/p1.json", sub);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	CHECK(strstr(text, "\"position\": \"0/16B3748:3\"") != NULL);
	CHECK(strstr(text, "\"flush_lsn\": \"0/16B37A0\"") != NULL);

	/* a commit position survives the round trip */
	pos = (wb_position_t){0x100000000ULL, UINT32_MAX};
	CHECK(wb_checkpoint_save(sub, "p1", ops, &pos, 5, NULL, NULL, &err) ==
	      0);
	CHECK(wb_checkpoint_load(sub, "p1", ops, &cp, &err) == 0);
	CHECK(cp.pos.major == 0x100000000ULL && cp.pos.minor == UINT32_MAX);
	CHECK(cp.sink == NULL);
	wb_checkpoint_clear(&cp);

	/* no temp file is left behind */
	snprintf(path, sizeof(path), "%s/p1.json.tmp", sub);
	CHECK(access(path, F_OK) != 0);

	/* a corrupt file is an error that names it */
	snprintf(path, sizeof(path), "%s/p1.json", sub);
	f = fopen(path, "w");
	CHECK(f != NULL);
	fputs("{\"version\": 1, \"position\": ", f);
	fclose(f);
	CHECK(wb_checkpoint_load(sub, "p1", ops, &cp, &err) != 0);
	CHECK(strstr(err.message, "corrupt") != NULL &&
	      strstr(err.message, "p1.json") != NULL);

	/* a directory under a regular file cannot be created */
	snprintf(sub, sizeof(sub), "%s/a/b/p1.json/x", dir);
	CHECK(wb_checkpoint_lock(sub, "p2", &err) == -1);
	CHECK(strstr(err.message, "cannot create checkpoint directory") !=
	      NULL);

	wb_checkpoint_unlock(fd);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
	printf("checkpoint: ok\n");
	return 0;
}
