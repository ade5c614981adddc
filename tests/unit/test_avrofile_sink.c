/* test_avrofile_sink.c — the avro-file sink through its ops table: rolling,
 * schema changes, crashes at awkward moments and replay, checked with
 * python3-avro (every event exactly once, in order, no .part left). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "avro_schema.h"
#include "buf.h"
#include "config.h"
#include "sink.h"
#include "check.h"

#define N_EVENTS 300
#define SWITCH 220 /* topic a's table is altered here */

static struct wb_schema v1 = {
	.json = "{\"type\":\"record\",\"name\":\"Env\",\"fields\":["
		"{\"name\":\"id\",\"type\":\"long\"},"
		"{\"name\":\"v\",\"type\":\"string\"}]}",
	.canonical = "",
	.fingerprint = 0x1111,
	.identity = 0x1111a,
	.full_name = "Env",
};
static struct wb_schema v2 = {
	.json = "{\"type\":\"record\",\"name\":\"Env\",\"fields\":["
		"{\"name\":\"id\",\"type\":\"long\"},"
		"{\"name\":\"v\",\"type\":\"string\"},"
		"{\"name\":\"extra\",\"type\":\"int\"}]}",
	.canonical = "",
	.fingerprint = 0x2222,
	.identity = 0x2222a,
	.full_name = "Env",
};

static wb_position_t delivered;
static int ndelivered;

static void on_delivered(void *opaque, const wb_position_t *pos)
{
	(void)opaque;
	delivered = *pos;
	ndelivered++;
}

static const char *topic_of(int i)
{
	return i % 3 == 0 ? "t.public.b" : "t.public.a";
}
static int is_tombstone(int i)
{
	return i % 10 == 7;
}

/* Writes events [from, to]. */
static int write_events(struct wb_sink *k, int from, int to)
{
	struct wb_buf b;
	wb_buf_init(&b);
	int rc = WB_OK;
	for (int i = from; i <= to && rc == WB_OK; i++) {
		const char *topic = topic_of(i);
		int altered = topic[9] == 'a' && i >= SWITCH;
		char v[64];
		snprintf(v, sizeof(v), "value %d padded to make blocks fill",
			 i);
		wb_buf_reset(&b);
		wb_avro_put_long(&b, i);
		wb_avro_put_string(&b, v);
		if (altered)
			wb_avro_put_long(&b, -i);
		struct wb_event ev = {
			.topic = topic,
			.value_schema = altered ? &v2 : &v1,
			.key_schema = NULL,
			.key = (const uint8_t *)"k",
			.key_len = 1,
			.value = is_tombstone(i) ? NULL : b.data,
			.value_len = is_tombstone(i) ? 0 : b.len,
			.pos = {(uint64_t)i, 0},
			.position = "x",
			.event_id = "e",
			.op = 'c',
		};
		wb_error_t err = {0};
		rc = k->ops->write(k, &ev, &err);
		if (rc != WB_OK)
			fprintf(stderr, "write %d: %s\n", i, err.message);
	}
	wb_buf_free(&b);
	return rc;
}

static struct wb_sink *start(struct wb_config *cfg, json_t *state)
{
	wb_error_t err = {0};
	struct wb_sink *k = wb_avrofile_sink_ops.create(cfg, &err);
	CHECK(k != NULL);
	if (k == NULL)
		return NULL;
	k->delivered = on_delivered;
	k->delivered_opaque = NULL;
	int rc = k->ops->open(k, state, &err);
	CHECK(rc == WB_OK);
	if (rc != WB_OK) {
		fprintf(stderr, "open: %s\n", err.message);
		k->ops->destroy(k);
		return NULL;
	}
	return k;
}

/* flush + state; returns the state as the checkpoint would store it. */
static char *checkpoint(struct wb_sink *k, int last)
{
	wb_error_t err = {0};
	ndelivered = 0;
	CHECK(k->ops->flush(k, 1000, &err) == WB_OK);
	CHECK(ndelivered == 1 && delivered.major == (uint64_t)last);
	json_t *st = k->ops->state(k);
	CHECK(st != NULL);
	char *text = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(st);
	return text;
}

static json_t *load(const char *text)
{
	return json_loads(text, 0, NULL);
}

static char *run(const char *cmd)
{
	FILE *p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	struct wb_buf b;
	wb_buf_init(&b);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		wb_buf_append(&b, chunk, n);
	int st = pclose(p);
	wb_buf_append(&b, "", 1);
	if (st != 0) {
		fprintf(stderr, "%s failed:\n%s\n", cmd, (char *)b.data);
		wb_buf_free(&b);
		return NULL;
	}
	return (char *)b.data;
}

static const char *py_check =
	"import os, sys, avro.datafile, avro.io\n"
	"root = sys.argv[1]\n"
	"for topic in sorted(os.listdir(root)):\n"
	"    d = os.path.join(root, topic)\n"
	"    names = sorted(n for n in os.listdir(d) if n != '.checkpointed')\n"
	"    parts = [n for n in names if not n.endswith('.avro')]\n"
	"    ids, files = [], []\n"
	"    for n in names:\n"
	"        if not n.endswith('.avro'):\n"
	"            continue\n"
	"        with open(os.path.join(d, n), 'rb') as f:\n"
	"            r = avro.datafile.DataFileReader(f, "
	"avro.io.DatumReader())\n"
	"            recs = list(r)\n"
	"        for rec in recs:\n"
	"            assert rec['v'] == 'value %d padded to make blocks fill' "
	"% rec['id']\n"
	"            if 'extra' in rec:\n"
	"                assert rec['extra'] == -rec['id']\n"
	"        ids += [rec['id'] for rec in recs]\n"
	"        files.append('%d:%d' % "
	"(len(r.datum_reader.writers_schema.fields),\n"
	"                                recs[0]['id'] if recs else -1))\n"
	"    print(topic, 'parts=%d' % len(parts))\n"
	"    print(','.join(map(str, ids)))\n"
	"    print(' '.join(files))\n";

/* Checks the files of one topic against python's view of them. */
static void check_topic(const char *out, const char *topic, int expect_parts)
{
	char head[128];
	snprintf(head, sizeof(head), "%s parts=%d\n", topic, expect_parts);
	const char *p = strstr(out, head);
	CHECK(p != NULL);
	if (p == NULL) {
		fprintf(stderr, "no \"%s\" in:\n%s\n", head, out);
		return;
	}
	p += strlen(head);
	struct wb_buf e;
	wb_buf_init(&e);
	for (int i = 1; i <= N_EVENTS; i++) {
		if (strcmp(topic_of(i), topic) != 0 || is_tombstone(i))
			continue;
		char num[16];
		snprintf(num, sizeof(num), "%s%d", e.len ? "," : "", i);
		wb_buf_append(&e, num, strlen(num));
	}
	wb_buf_append(&e, "\n", 1);
	CHECK(strncmp(p, (char *)e.data, e.len) == 0);
	if (strncmp(p, (char *)e.data, e.len) != 0)
		fprintf(stderr, "%s ids:\n%.*s\nwant:\n%.*s\n", topic,
			(int)(strchr(p, '\n') - p), p, (int)e.len,
			(char *)e.data);
	wb_buf_free(&e);

	/* Files: "<nfields>:<first id>" in name order. */
	p = strchr(p, '\n') + 1;
	const char *end = strchr(p, '\n');
	int nfiles = 0, switches = 0, prev_fields = 0, prev_first = 0;
	while (p < end) {
		int fields, first, used;
		if (sscanf(p, "%d:%d%n", &fields, &first, &used) != 2)
			break;
		p += used;
		while (*p == ' ')
			p++;
		CHECK(first > prev_first); /* no empty file, names in order */
		if (prev_fields && fields != prev_fields) {
			switches++;
			/* The altered table starts a new file, exactly there.
			 */
			CHECK(prev_fields == 2 && fields == 3);
			CHECK(first == SWITCH);
		}
		prev_fields = fields;
		prev_first = first;
		nfiles++;
	}
	CHECK(nfiles >= 3); /* roll_bytes rolled it */
	CHECK(switches == (topic[9] == 'a' ? 1 : 0));
}

static void test_crashes(const char *base, const char *codec)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/%s", base, codec);
	struct wb_config cfg = {0};
	cfg.name = "t";
	cfg.sink.type = "avro-file";
	cfg.sink.dir = dir;
	cfg.sink.codec = (char *)codec;
	cfg.sink.codec_level = 3;
	cfg.sink.block_bytes = 300;
	cfg.sink.roll_bytes = 700;
	cfg.sink.roll_age_ms = 3600 * 1000;
	wb_error_t err = {0};

	/* Run 1: checkpoint at 100, more gets to disk (even fsynced), crash. */
	struct wb_sink *k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_events(k, 1, 100) == WB_OK);
	char *ck1 = checkpoint(k, 100);
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	json_t *st = load(ck1);
	json_t *a =
		json_object_get(json_object_get(st, "series"), "t.public.a");
	CHECK(json_is_integer(json_object_get(a, "seq")));
	CHECK(json_integer_value(json_object_get(a, "offset")) > 0);
	CHECK(json_integer_value(json_object_get(a, "closed_through")) >= 1);
	json_decref(st);
	CHECK(write_events(k, 101, 160) == WB_OK);
	CHECK(k->ops->flush(k, 1000, &err) == WB_OK);
	CHECK(write_events(k, 161, 190) == WB_OK);
	k->ops->destroy(k); /* kill -9 */
	/* ... and one that hit mid-block: every unfinished file gets a torn
	 * tail. */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "for f in %s/*/*.part; do printf '\\036\\200torn' >> $f; done",
		 dir);
	CHECK(system(cmd) == 0);

	/* Run 2: restart from checkpoint 1, replay, checkpoint at 250 but
	 * crash before checkpointed() could rename anything, then more. */
	st = load(ck1);
	k = start(&cfg, st);
	json_decref(st);
	if (k == NULL)
		goto out;
	CHECK(write_events(k, 101, 250) == WB_OK);
	char *ck2 = checkpoint(k, 250);
	CHECK(write_events(k, 251, 275) == WB_OK);
	k->ops->destroy(k);

	/* Run 3: restart from checkpoint 2, replay to the end, clean stop. */
	st = load(ck2);
	k = start(&cfg, st);
	json_decref(st);
	if (k == NULL) {
		free(ck2);
		goto out;
	}
	CHECK(write_events(k, 251, N_EVENTS) == WB_OK);
	ndelivered = 0;
	CHECK(k->ops->close(k, &err) == WB_OK);
	CHECK(ndelivered == 1 && delivered.major == N_EVENTS);
	st = k->ops->state(k);
	a = json_object_get(json_object_get(st, "series"), "t.public.a");
	CHECK(json_integer_value(json_object_get(a, "seq")) == 0);
	json_decref(st);
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);
	free(ck2);

	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/check.py %s", base,
		 dir);
	char *got = run(cmd);
	CHECK(got != NULL);
	if (got) {
		check_topic(got, "t.public.a", 0);
		check_topic(got, "t.public.b", 0);
	}
	free(got);
out:
	free(ck1);
}

/* Without any checkpoint the open file up to its last checkpointed offset
 * was acknowledged: a .part file is never deleted; a whole one becomes
 * .avro, a torn one .avro.orphan (untouched), and numbering continues after
 * them. */
static void test_no_checkpoint(const char *base)
{
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/nockpt", base);
	struct wb_config cfg = {0};
	cfg.sink.dir = dir;
	cfg.sink.codec = "null";
	wb_error_t err = {0};

	/* A crash before the first checkpoint ever: nothing was acknowledged
	 * (no marker), so the .part files go and the replay writes them
	 * again, exactly once. */
	snprintf(dir, sizeof(dir), "%s/fresh", base);
	struct wb_sink *k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_events(k, 1, 10) == WB_OK);
	CHECK(k->ops->flush(k, 1000, &err) == WB_OK);
	k->ops->destroy(k);
	snprintf(path, sizeof(path), "%s/t.public.a/000000000001.avro.part",
		 dir);
	CHECK(access(path, F_OK) == 0);
	k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(access(path, F_OK) != 0);
	CHECK(write_events(k, 1, 10) == WB_OK);
	CHECK(k->ops->close(k, &err) == WB_OK);
	json_decref(k->ops->state(k));
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);
	snprintf(path, sizeof(path), "%s/t.public.a/.checkpointed", dir);
	CHECK(access(path, F_OK) == 0);
	char cmd0[1200];
	snprintf(cmd0, sizeof(cmd0),
		 "cd %s && /usr/bin/python3 -c \"import glob, avro.datafile, "
		 "avro.io\n"
		 "for f in sorted(glob.glob('*/*')):\n"
		 "    r = avro.datafile.DataFileReader(open(f, 'rb'), "
		 "avro.io.DatumReader())\n"
		 "    print(f, [x['id'] for x in r])\n\"",
		 dir);
	char *got0 = run(cmd0);
	const char *want0 = "t.public.a/000000000001.avro [1, 2, 4, 5, 8, 10]\n"
			    "t.public.b/000000000001.avro [3, 6, 9]\n";
	CHECK(got0 != NULL && strcmp(got0, want0) == 0);
	if (got0 && strcmp(got0, want0) != 0)
		fprintf(stderr, "fresh:\n%s", got0);
	free(got0);

	snprintf(dir, sizeof(dir), "%s/nockpt", base);
	k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_events(k, 1, 10) == WB_OK);
	CHECK(k->ops->close(k, &err) == WB_OK);
	json_decref(k->ops->state(k));
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);
	snprintf(path, sizeof(path), "%s/t.public.a/000000000001.avro", dir);
	CHECK(access(path, F_OK) == 0);

	/* A crash before the first checkpoint of a new run. */
	k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_events(k, 11, 20) == WB_OK);
	CHECK(k->ops->flush(k, 1000, &err) == WB_OK);
	snprintf(path, sizeof(path), "%s/t.public.a/000000000002.avro.part",
		 dir);
	CHECK(access(path, F_OK) == 0);
	k->ops->destroy(k);

	/* b's file gets a torn tail, as from a power loss mid-block */
	char cmd[1200];
	snprintf(cmd, sizeof(cmd),
		 "printf '\\036\\200torn' >> "
		 "%s/t.public.b/000000000002.avro.part",
		 dir);
	CHECK(system(cmd) == 0);

	k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(access(path, F_OK) != 0); /* no .part left ... */
	snprintf(path, sizeof(path), "%s/t.public.a/000000000002.avro", dir);
	CHECK(access(path, F_OK) == 0); /* ... a's kept, whole */
	snprintf(path, sizeof(path), "%s/t.public.b/000000000002.avro.orphan",
		 dir);
	CHECK(access(path, F_OK) == 0); /* ... b's kept aside, torn */
	snprintf(path, sizeof(path), "%s/t.public.a/000000000001.avro", dir);
	CHECK(access(path, F_OK) == 0);
	CHECK(write_events(k, 11, 12) == WB_OK);
	CHECK(k->ops->flush(k, 1000, &err) == WB_OK);
	snprintf(path, sizeof(path), "%s/t.public.a/000000000003.avro.part",
		 dir);
	CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/t.public.b/000000000003.avro.part",
		 dir);
	CHECK(access(path, F_OK) == 0);
	/* every record of the kept files reads back (the orphan after
	 * cutting its torn tail, as the warning says) */
	snprintf(cmd, sizeof(cmd),
		 "cd %s && head -c -6 t.public.b/000000000002.avro.orphan > "
		 "b2.avro && /usr/bin/python3 -c \"import avro.datafile, "
		 "avro.io\n"
		 "for f in ['t.public.a/000000000002.avro', 'b2.avro']:\n"
		 "    r = avro.datafile.DataFileReader(open(f, 'rb'), "
		 "avro.io.DatumReader())\n"
		 "    print(','.join(str(x['id']) for x in r))\n\"",
		 dir);
	char *got = run(cmd);
	CHECK(got != NULL && strcmp(got, "11,13,14,16,19,20\n12,15,18\n") == 0);
	if (got)
		fprintf(stderr, "kept files hold: %s", got);
	free(got);

	/* A write error is reported with the path, not swallowed. */
	snprintf(path, sizeof(path), "%s/t.public.c", dir);
	FILE *f = fopen(path, "w");
	if (f)
		fclose(f);
	struct wb_event ev = {.topic = "t.public.c",
			      .value_schema = &v1,
			      .value = (const uint8_t *)"\x02\x00",
			      .value_len = 2};
	int rc = k->ops->write(k, &ev, &err);
	CHECK(rc == WB_ERR_IO && strstr(err.message, "t.public.c") != NULL);

	/* check(): one line, ok or FAIL. */
	char *text = NULL;
	size_t n = 0;
	FILE *out = open_memstream(&text, &n);
	CHECK(k->ops->check(k, out, &err) == WB_OK);
	fclose(out);
	CHECK(text && strncmp(text, "ok sink: ", 9) == 0 &&
	      strchr(text, '\n') == text + strlen(text) - 1);
	free(text);
	k->ops->destroy(k);

	cfg.sink.dir = "/proc/waybill-no/out";
	k = wb_avrofile_sink_ops.create(&cfg, &err);
	CHECK(k != NULL);
	if (k) {
		text = NULL;
		out = open_memstream(&text, &n);
		CHECK(k->ops->check(k, out, &err) != WB_OK);
		fclose(out);
		CHECK(text && strncmp(text, "FAIL sink: ", 11) == 0);
		free(text);
		k->ops->destroy(k);
	}
	/* An idle file completes on age, from poll(). */
	snprintf(dir, sizeof(dir), "%s/age", base);
	cfg.sink.dir = dir;
	cfg.sink.roll_age_ms = 50;
	k = start(&cfg, NULL);
	if (k) {
		CHECK(write_events(k, 1, 1) == WB_OK);
		CHECK(k->ops->poll(k, 0, &err) == WB_OK);
		json_t *st = k->ops->state(k);
		json_t *a = json_object_get(json_object_get(st, "series"),
					    "t.public.a");
		CHECK(json_integer_value(
			      json_object_get(a, "closed_through")) == 0);
		json_decref(st);
		usleep(80 * 1000);
		CHECK(k->ops->poll(k, 0, &err) == WB_OK);
		st = k->ops->state(k);
		a = json_object_get(json_object_get(st, "series"),
				    "t.public.a");
		CHECK(json_integer_value(
			      json_object_get(a, "closed_through")) == 1);
		CHECK(json_integer_value(json_object_get(a, "seq")) == 0);
		json_decref(st);
		CHECK(k->ops->checkpointed(k, &err) == WB_OK);
		snprintf(path, sizeof(path), "%s/t.public.a/000000000001.avro",
			 dir);
		CHECK(access(path, F_OK) == 0);
		k->ops->destroy(k);
	}
	cfg.sink.codec = "lz4";
	CHECK(wb_avrofile_sink_ops.create(&cfg, &err) == NULL);
	CHECK(err.code == WB_ERR_CONFIG);
}

/* Two schemas that differ only in a decimal's scale: one fingerprint (the
 * canonical form drops scale), two identities. */
static struct wb_schema dec2 = {
	.json = "{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":"
		"\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
		"\"decimal\",\"precision\":10,\"scale\":2}}]}",
	.canonical = "",
	.fingerprint = 0x3333,
	.full_name = "P",
};
static struct wb_schema dec4 = {
	.json = "{\"type\":\"record\",\"name\":\"P\",\"fields\":[{\"name\":"
		"\"amount\",\"type\":{\"type\":\"bytes\",\"logicalType\":"
		"\"decimal\",\"precision\":10,\"scale\":4}}]}",
	.canonical = "",
	.fingerprint = 0x3333,
	.full_name = "P",
};

/* One decimal event: the unscaled value as one big-endian byte pair. */
static int write_dec(struct wb_sink *k, const struct wb_schema *sc,
		     int unscaled, uint64_t pos)
{
	uint8_t v[3] = {4, (uint8_t)(unscaled >> 8), (uint8_t)unscaled};
	struct wb_event ev = {.topic = "t.public.price",
			      .value_schema = sc,
			      .value = v,
			      .value_len = 3,
			      .pos = {pos, 0}};
	wb_error_t err = {0};
	int rc = k->ops->write(k, &ev, &err);
	if (rc != WB_OK)
		fprintf(stderr, "write: %s\n", err.message);
	return rc;
}

/* A schema change that keeps the fingerprint starts a new file, in one run
 * and after a restart that reopened the file. */
static void test_identity(const char *base)
{
	char dir[512], cmd[1500];
	snprintf(dir, sizeof(dir), "%s/identity", base);
	struct wb_config cfg = {0};
	cfg.sink.dir = dir;
	cfg.sink.codec = "zstandard";
	wb_error_t err = {0};
	dec2.identity = wb_avro_crc64(dec2.json, strlen(dec2.json));
	dec4.identity = wb_avro_crc64(dec4.json, strlen(dec4.json));

	struct wb_sink *k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_dec(k, &dec2, 150, 1) == WB_OK);   /* 1.50 */
	CHECK(write_dec(k, &dec4, 15000, 2) == WB_OK); /* 1.5000 */
	char *ck = checkpoint(k, 2);
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k); /* crash: file 2 (scale 4) stays open */

	json_t *st = load(ck);
	k = start(&cfg, st);
	json_decref(st);
	free(ck);
	if (k == NULL)
		return;
	CHECK(write_dec(k, &dec2, 275, 3) == WB_OK);   /* 2.75 */
	CHECK(write_dec(k, &dec4, 12345, 4) == WB_OK); /* 1.2345 */
	CHECK(k->ops->close(k, &err) == WB_OK);
	json_decref(k->ops->state(k));
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);

	snprintf(cmd, sizeof(cmd),
		 "cd %s/t.public.price && /usr/bin/python3 -c \"import glob, "
		 "avro.datafile, avro.io\n"
		 "for f in sorted(glob.glob('*')):\n"
		 "    r = avro.datafile.DataFileReader(open(f, 'rb'), "
		 "avro.io.DatumReader())\n"
		 "    print(f, ' '.join(str(x['amount']) for x in r))\n\"",
		 dir);
	char *got = run(cmd);
	const char *want = "000000000001.avro 1.50\n"
			   "000000000002.avro 1.5000\n"
			   "000000000003.avro 2.75\n"
			   "000000000004.avro 1.2345\n";
	CHECK(got != NULL && strcmp(got, want) == 0);
	if (got && strcmp(got, want) != 0)
		fprintf(stderr, "files:\n%swant:\n%s", got, want);
	free(got);
}

/* A file completed by roll_age while idle becomes .avro without another
 * checkpoint when a durable checkpoint covers all of it; a restart from
 * that checkpoint keeps it complete. */
static void test_idle_age(const char *base)
{
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/idle", base);
	struct wb_config cfg = {0};
	cfg.sink.dir = dir;
	cfg.sink.codec = "deflate";
	cfg.sink.roll_age_ms = 50;
	wb_error_t err = {0};
	struct wb_sink *k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_events(k, 1, 5) == WB_OK);
	char *ck = checkpoint(k, 5);
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	usleep(80 * 1000);
	CHECK(k->ops->poll(k, 0, &err) == WB_OK);
	snprintf(path, sizeof(path), "%s/t.public.a/000000000001.avro", dir);
	CHECK(access(path, F_OK) == 0); /* no checkpoint needed */
	snprintf(path, sizeof(path), "%s/t.public.b/000000000001.avro", dir);
	CHECK(access(path, F_OK) == 0);
	k->ops->destroy(k); /* crash before any other checkpoint */

	json_t *st = load(ck);
	k = start(&cfg, st);
	json_decref(st);
	free(ck);
	if (k == NULL)
		return;
	snprintf(path, sizeof(path), "%s/t.public.a/000000000001.avro", dir);
	CHECK(access(path, F_OK) == 0);
	CHECK(write_events(k, 6, 8) == WB_OK);
	ck = checkpoint(k, 8);
	st = load(ck);
	json_t *a =
		json_object_get(json_object_get(st, "series"), "t.public.a");
	CHECK(json_integer_value(json_object_get(a, "seq")) == 2);
	CHECK(json_integer_value(json_object_get(a, "closed_through")) == 1);
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);
	/* and a restart from that one keeps file 1 too */
	k = start(&cfg, st);
	json_decref(st);
	free(ck);
	if (k == NULL)
		return;
	CHECK(access(path, F_OK) == 0);
	CHECK(k->ops->close(k, &err) == WB_OK);
	json_decref(k->ops->state(k));
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);
	char cmd[1500];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && /usr/bin/python3 -c \"import glob, avro.datafile, "
		 "avro.io\n"
		 "for t in ['a', 'b']:\n"
		 "    ids = []\n"
		 "    for f in sorted(glob.glob('t.public.' + t + '/*')):\n"
		 "        r = avro.datafile.DataFileReader(open(f, 'rb'), "
		 "avro.io.DatumReader())\n"
		 "        ids += [x['id'] for x in r]\n"
		 "    print(t, ids)\n\"",
		 dir);
	char *got = run(cmd);
	const char *want = "a [1, 2, 4, 5, 8]\nb [3, 6]\n";
	CHECK(got != NULL && strcmp(got, want) == 0);
	if (got && strcmp(got, want) != 0)
		fprintf(stderr, "idle files:\n%swant:\n%s", got, want);
	free(got);
}

static int open_fds(void)
{
	char *out = run("ls /proc/$PPID/fd | wc -l");
	int n = out ? atoi(out) : -1;
	free(out);
	return n;
}

enum { NSERIES = 300, PER = 40 };

/* Writes ids [from, to) to each of NSERIES series, one series after the
 * other; returns the largest number of descriptors seen open beyond
 * base_fds. */
static int write_many(struct wb_sink *k, int from, int to, int base_fds)
{
	struct wb_buf b;
	wb_buf_init(&b);
	wb_error_t err = {0};
	int max_fds = 0;
	for (int t = 0; t < NSERIES; t++) {
		char topic[64];
		snprintf(topic, sizeof(topic), "t.public.s%03d", t);
		for (int i = from; i < to; i++) {
			char v[64];
			snprintf(v, sizeof(v),
				 "value %d padded to make blocks fill", t);
			wb_buf_reset(&b);
			wb_avro_put_long(&b, i);
			wb_avro_put_string(&b, v);
			struct wb_event ev = {
				.topic = topic,
				.value_schema = &v1,
				.value = b.data,
				.value_len = b.len,
				.pos = {(uint64_t)(i * NSERIES + t + 1), 0}};
			CHECK(k->ops->write(k, &ev, &err) == WB_OK);
		}
		if (t % 100 == 99) {
			int n = open_fds() - base_fds;
			if (n > max_fds)
				max_fds = n;
		}
	}
	wb_buf_free(&b);
	return max_fds;
}

/* Many series: descriptors and buffers stay bounded while they are
 * written, idle series give theirs back after a checkpoint, and the blocks
 * that parking writes past the checkpoint are cut back by a restart. */
static void test_many_series(const char *base)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/many", base);
	struct wb_config cfg = {0};
	cfg.sink.dir = dir;
	cfg.sink.codec = "zstandard";
	wb_error_t err = {0};
	struct wb_sink *k = start(&cfg, NULL);
	if (k == NULL)
		return;
	int base_fds = open_fds();
	int max_fds = write_many(k, 0, PER, base_fds);
	fprintf(stderr, "many series: at most %d descriptors while writing\n",
		max_fds);
	CHECK(max_fds > 0 && max_fds <= 256 + 2);
	int last = (PER - 1) * NSERIES + NSERIES;
	free(checkpoint(k, last));
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	char *ck = checkpoint(k, last);
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	int idle = open_fds() - base_fds;
	fprintf(stderr, "many series: %d descriptors when idle\n", idle);
	CHECK(idle <= 2); /* the pool's thread holds none */
	/* more, parked again as they go (blocks past the checkpoint), then
	 * kill -9 and a restart from the checkpoint that replays them */
	write_many(k, PER, 2 * PER, base_fds);
	k->ops->destroy(k);
	json_t *st = load(ck);
	free(ck);
	k = start(&cfg, st);
	json_decref(st);
	if (k == NULL)
		return;
	CHECK(open_fds() - base_fds <= 2); /* reopened files stay parked */
	write_many(k, PER, 2 * PER, base_fds);
	CHECK(k->ops->close(k, &err) == WB_OK);
	json_decref(k->ops->state(k));
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);
	char cmd[1500];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && /usr/bin/python3 -c \"import glob, avro.datafile, "
		 "avro.io\n"
		 "bad = 0\n"
		 "for t in range(%d):\n"
		 "    fs = sorted(glob.glob('t.public.s%%03d/*' %% t))\n"
		 "    ids = []\n"
		 "    for f in fs:\n"
		 "        r = avro.datafile.DataFileReader(open(f, 'rb'), "
		 "avro.io.DatumReader())\n"
		 "        ids += [x['id'] for x in r]\n"
		 "    bad += ids != list(range(%d)) or not "
		 "fs[0].endswith('.avro')\n"
		 "print('bad', bad)\n\"",
		 dir, NSERIES, 2 * PER);
	char *got = run(cmd);
	CHECK(got != NULL && strcmp(got, "bad 0\n") == 0);
	if (got && strcmp(got, "bad 0\n") != 0)
		fprintf(stderr, "many series: %s", got);
	free(got);
}

/* A damaged series entry in the checkpoint (a count missing or of another
 * type) stops open() and deletes nothing: read as 0 it would have meant
 * "nothing kept" and removed acknowledged records. */
static void test_damaged_state(const char *base)
{
	char dir[512], path[600];
	snprintf(dir, sizeof(dir), "%s/damaged", base);
	struct wb_config cfg = {0};
	cfg.sink.dir = dir;
	cfg.sink.codec = "null";
	wb_error_t err = {0};
	struct wb_sink *k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_events(k, 1, 10) == WB_OK);
	char *text = checkpoint(k, 10);
	k->ops->destroy(k);
	snprintf(path, sizeof(path), "%s/t.public.a/000000000001.avro.part",
		 dir);
	CHECK(access(path, F_OK) == 0);
	static const char *const damage[] = {"offset", "seq", "closed_through"};
	for (size_t i = 0; i < sizeof(damage) / sizeof(damage[0]); i++) {
		json_t *st = load(text);
		json_t *series = json_object_get(st, "series");
		json_t *a = json_object_get(series, "t.public.a");
		CHECK(a != NULL);
		json_object_set_new(a, damage[i], json_string("12"));
		k = wb_avrofile_sink_ops.create(&cfg, &err);
		CHECK(k != NULL);
		if (k == NULL) {
			json_decref(st);
			break;
		}
		k->delivered = on_delivered;
		int rc = k->ops->open(k, st, &err);
		CHECK(rc == WB_ERR_RUNTIME);
		CHECK(strstr(err.message, damage[i]) != NULL);
		k->ops->destroy(k);
		json_decref(st);
		CHECK(access(path, F_OK) == 0);
	}
	free(text);
}

/* The ids in the files of series a and b, read by python3-avro. */
static char *ids_in(const char *dir)
{
	char cmd[1500];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && /usr/bin/python3 -c \"import glob, avro.datafile, "
		 "avro.io\n"
		 "for t in ['a', 'b']:\n"
		 "    ids = []\n"
		 "    for f in sorted(glob.glob('t.public.' + t + '/*')):\n"
		 "        r = avro.datafile.DataFileReader(open(f, 'rb'), "
		 "avro.io.DatumReader())\n"
		 "        ids += [x['id'] for x in r]\n"
		 "    print(t, ids)\n\"",
		 dir);
	return run(cmd);
}

/* flush_interval: written events are delivered (block written, fsynced)
 * by poll() once the pipeline says nothing is queued and the interval
 * passed; never while a backlog waits; a crash still truncates back to
 * the checkpoint, so nothing appears twice. */
static void test_flush_interval(const char *base)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s/flush", base);
	struct wb_config cfg = {0};
	cfg.sink.dir = dir;
	cfg.sink.codec = "zstandard";
	cfg.sink.flush_interval_ms = 30;
	wb_error_t err = {0};
	struct wb_sink *k = start(&cfg, NULL);
	if (k == NULL)
		return;
	CHECK(write_events(k, 1, 2) == WB_OK);
	char *ck = checkpoint(k, 2);
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	CHECK(write_events(k, 3, 4) == WB_OK);
	ndelivered = 0;
	usleep(50 * 1000);
	k->idle = false; /* a backlog: no flush */
	CHECK(k->ops->poll(k, 0, &err) == WB_OK);
	CHECK(ndelivered == 0);
	k->idle = true;
	CHECK(k->ops->poll(k, 0, &err) == WB_OK);
	CHECK(ndelivered == 1 && delivered.major == 4);
	/* the block is in the file, readable before any checkpoint */
	char *got = ids_in(dir);
	CHECK(got != NULL && strcmp(got, "a [1, 2, 4]\nb [3]\n") == 0);
	free(got);
	CHECK(write_events(k, 5, 6) == WB_OK);
	CHECK(k->ops->poll(k, 0, &err) == WB_OK);
	CHECK(ndelivered == 1); /* not yet 30 ms */
	usleep(50 * 1000);
	CHECK(k->ops->poll(k, 0, &err) == WB_OK);
	CHECK(ndelivered == 2 && delivered.major == 6);
	k->ops->destroy(k); /* crash: the checkpoint holds 1..2 */

	json_t *st = load(ck);
	k = start(&cfg, st);
	json_decref(st);
	free(ck);
	if (k == NULL)
		return;
	CHECK(write_events(k, 3, 6) == WB_OK); /* the replay */
	CHECK(k->ops->close(k, &err) == WB_OK);
	json_decref(k->ops->state(k));
	CHECK(k->ops->checkpointed(k, &err) == WB_OK);
	k->ops->destroy(k);
	got = ids_in(dir);
	const char *want = "a [1, 2, 4, 5]\nb [3, 6]\n";
	CHECK(got != NULL && strcmp(got, want) == 0);
	if (got && strcmp(got, want) != 0)
		fprintf(stderr, "flush_interval files:\n%swant:\n%s", got,
			want);
	free(got);
}

int main(void)
{
	char base[] = "/tmp/wb_test_avrofile_XXXXXX";
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	char script[600];
	snprintf(script, sizeof(script), "%s/check.py", base);
	FILE *f = fopen(script, "w");
	if (f == NULL)
		return 1;
	fputs(py_check, f);
	fclose(f);

	test_crashes(base, "zstandard");
	test_crashes(base, "deflate");
	test_crashes(base, "null");
	test_no_checkpoint(base);
	test_identity(base);
	test_idle_age(base);
	test_flush_interval(base);
	test_many_series(base);
	test_damaged_state(base);
	CHECK(strcmp(wb_avrofile_sink_ops.name, "avro-file") == 0);

	char cmd[1500];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	if (failures == 0 && system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", base);
	if (failures)
		fprintf(stderr,
			"test_avrofile_sink: %d check(s) failed (files in "
			"%s)\n",
			failures, base);
	else
		printf("test_avrofile_sink: ok\n");
	return failures != 0;
}
