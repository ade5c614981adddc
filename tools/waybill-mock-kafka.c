/* waybill-mock-kafka.c — a local Kafka for tests and demos: librdkafka's mock
 * cluster (the real wire protocol, on loopback) with fault injection driven
 * from standard input.
 *
 * Usage: waybill-mock-kafka [--brokers N] [--partitions N] [--topic NAME]...
 *                           [--bootstrap-file FILE] [--exit-on-eof]
 *
 * Prints the bootstrap address ("127.0.0.1:PORT,...") as one line on stdout
 * once listening. Topics are created on first use (produce or metadata
 * request) with the mock's default of 4 partitions; --topic pre-creates one
 * with --partitions partitions (default 4).
 *
 * Commands on stdin, one per line, each answered by one line on stdout, "ok"
 * or "error <why>":
 *   down BROKER_ID            disconnect a broker and refuse connections
 *   up BROKER_ID              accept connections again
 *   errors API_KEY ERR [CNT]  the next CNT (default 1) requests of that API
 *                             (0 Produce, 1 Fetch, 3 Metadata, ...) fail
 *                             with Kafka error code ERR (6 NOT_LEADER_OR_
 *                             FOLLOWER, 7 REQUEST_TIMED_OUT, ...)
 *   rtt BROKER_ID MS          add MS of round-trip delay to a broker
 *   topic NAME PARTITIONS     create a topic
 *   quit                      exit
 * Runs until SIGTERM/SIGINT or quit; end of input stops it only with
 * --exit-on-eof, so it can run in the background with stdin closed. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: waybill-mock-kafka [--brokers N] [--partitions N] "
		   "[--topic NAME]... [--bootstrap-file FILE] "
		   "[--exit-on-eof]\n");
}

static int parse_int(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end != '\0' || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static void reply(const char *fmt, const char *detail)
{
	printf(fmt, detail);
	putchar('\n');
	fflush(stdout);
}

static void reply_err(rd_kafka_resp_err_t e)
{
	if (e)
		reply("error %s", rd_kafka_err2str(e));
	else
		reply("ok%s", "");
}

/* Runs one command line; returns 1 on quit. */
static int command(rd_kafka_mock_cluster_t *mc, char *line, int nbrokers)
{
	char *argv[5];
	int argc = 0;
	for (char *tok = strtok(line, " \t\r\n"); tok && argc < 5;
	     tok = strtok(NULL, " \t\r\n"))
		argv[argc++] = tok;
	if (argc == 0)
		return 0;
	long a = 0, b = 0, c = 1;
	if (strcmp(argv[0], "quit") == 0) {
		reply("ok%s", "");
		return 1;
	}
	if ((strcmp(argv[0], "down") == 0 || strcmp(argv[0], "up") == 0) &&
	    argc == 2) {
		if (parse_int(argv[1], 1, nbrokers, &a)) {
			reply("error no broker %s", argv[1]);
			return 0;
		}
		reply_err(
			argv[0][0] == 'd'
				? rd_kafka_mock_broker_set_down(mc, (int32_t)a)
				: rd_kafka_mock_broker_set_up(mc, (int32_t)a));
		return 0;
	}
	if (strcmp(argv[0], "errors") == 0 && (argc == 3 || argc == 4)) {
		if (parse_int(argv[1], 0, 100, &a) ||
		    parse_int(argv[2], -200, 200, &b) ||
		    (argc == 4 && parse_int(argv[3], 1, 1000000, &c))) {
			reply("error %s",
			      "usage: errors API_KEY ERR_CODE [COUNT]");
			return 0;
		}
		rd_kafka_resp_err_t *errs = malloc((size_t)c * sizeof(*errs));
		if (errs == NULL) {
			reply("error %s", "out of memory");
			return 0;
		}
		for (long i = 0; i < c; i++)
			errs[i] = (rd_kafka_resp_err_t)b;
		rd_kafka_mock_push_request_errors_array(mc, (int16_t)a,
							(size_t)c, errs);
		free(errs);
		reply("ok%s", "");
		return 0;
	}
	if (strcmp(argv[0], "rtt") == 0 && argc == 3) {
		if (parse_int(argv[1], 1, nbrokers, &a) ||
		    parse_int(argv[2], 0, 3600000, &b)) {
			reply("error %s", "usage: rtt BROKER_ID MS");
			return 0;
		}
		reply_err(rd_kafka_mock_broker_set_rtt(mc, (int32_t)a, (int)b));
		return 0;
	}
	if (strcmp(argv[0], "topic") == 0 && argc == 3) {
		if (parse_int(argv[2], 1, 10000, &b)) {
			reply("error %s", "usage: topic NAME PARTITIONS");
			return 0;
		}
		reply_err(rd_kafka_mock_topic_create(
			mc, argv[1], (int)b, nbrokers < 3 ? nbrokers : 3));
		return 0;
	}
	reply("error unknown command %s", argv[0]);
	return 0;
}

int main(int argc, char **argv)
{
	long nbrokers = 1, partitions = 4;
	const char *bootstrap_file = NULL;
	int exit_on_eof = 0;
	const char **topics = calloc((size_t)argc + 1, sizeof(*topics));
	int ntopics = 0;
	if (topics == NULL)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *o = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(o, "--brokers") == 0 && v &&
		    parse_int(v, 1, 32, &nbrokers) == 0) {
			i++;
		} else if (strcmp(o, "--partitions") == 0 && v &&
			   parse_int(v, 1, 10000, &partitions) == 0) {
			i++;
		} else if (strcmp(o, "--topic") == 0 && v) {
			topics[ntopics++] = v;
			i++;
		} else if (strcmp(o, "--bootstrap-file") == 0 && v) {
			bootstrap_file = v;
			i++;
		} else if (strcmp(o, "--exit-on-eof") == 0) {
			exit_on_eof = 1;
		} else if (strcmp(o, "--help") == 0) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}

	char errstr[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	/* The handle only hosts the cluster; keep its own logging quiet. */
	rd_kafka_conf_set(conf, "log_level", "3", NULL, 0);
	rd_kafka_t *rk =
		rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		fprintf(stderr, "waybill-mock-kafka: %s\n", errstr);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc =
		rd_kafka_mock_cluster_new(rk, (int)nbrokers);
	if (mc == NULL) {
		fprintf(stderr, "waybill-mock-kafka: cannot start the mock "
				"cluster\n");
		rd_kafka_destroy(rk);
		return 1;
	}
	for (int i = 0; i < ntopics; i++) {
		rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(
			mc, topics[i], (int)partitions,
			nbrokers < 3 ? (int)nbrokers : 3);
		if (e)
			fprintf(stderr, "waybill-mock-kafka: topic %s: %s\n",
				topics[i], rd_kafka_err2str(e));
	}
	const char *bootstraps = rd_kafka_mock_cluster_bootstraps(mc);
	if (bootstrap_file) {
		char tmp[4096];
		snprintf(tmp, sizeof(tmp), "%s.tmp", bootstrap_file);
		FILE *f = fopen(tmp, "w");
		if (f == NULL || fprintf(f, "%s\n", bootstraps) < 0 ||
		    fclose(f) != 0 || rename(tmp, bootstrap_file) != 0) {
			fprintf(stderr,
				"waybill-mock-kafka: cannot write %s: %s\n",
				bootstrap_file, strerror(errno));
			rd_kafka_mock_cluster_destroy(mc);
			rd_kafka_destroy(rk);
			return 1;
		}
	}
	printf("%s\n", bootstraps);
	fflush(stdout);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	char line[1024];
	size_t len = 0;
	int stdin_open = 1;
	while (!stop_requested) {
		if (!stdin_open) {
			poll(NULL, 0, 200);
			continue;
		}
		struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
		int n = poll(&pfd, 1, 200);
		if (n <= 0)
			continue;
		ssize_t r =
			read(STDIN_FILENO, line + len, sizeof(line) - 1 - len);
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			if (exit_on_eof)
				break;
			stdin_open = 0;
			continue;
		}
		len += (size_t)r;
		line[len] = '\0';
		char *nl;
		int quit = 0;
		while (!quit && (nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			quit = command(mc, line, (int)nbrokers);
			size_t used = (size_t)(nl + 1 - line);
			memmove(line, nl + 1, len - used + 1);
			len -= used;
		}
		if (quit)
			break;
		if (len == sizeof(line) - 1) {
			reply("error %s", "line too long");
			len = 0;
		}
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	free(topics);
	return 0;
}
