/* test_notify.c — src/notify.c against a unix datagram socket standing in
 * for systemd (NOTIFY_SOCKET): the exact messages, the watchdog cadence
 * (every half WATCHDOG_USEC), STATUS= at most once a second and only on
 * change, and silence without NOTIFY_SOCKET. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "notify.h"

static int sock = -1;

/* The next datagram, or "" when none is waiting. */
static const char *next_msg(void)
{
	static char buf[512];
	ssize_t n = recv(sock, buf, sizeof(buf) - 1, MSG_DONTWAIT);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

int main(void)
{
	char dir[] = "/tmp/wb-notify-XXXXXX";
	if (mkdtemp(dir) == NULL)
		return 1;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/notify", dir);
	sock = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return 1;

	/* without NOTIFY_SOCKET: nothing is sent */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	wb_notify_init();
	CHECK(!wb_notify_enabled());
	CHECK(wb_notify_watchdog_usec() == 0);
	wb_notify_ready("streaming from x");
	struct wb_notify_status st = {"0/1:end", 0.0, 3};
	wb_notify_tick(&st, 1000);
	wb_notify_stopping("y");
	CHECK_STR(next_msg(), "");

	setenv("NOTIFY_SOCKET", sa.sun_path, 1);
	setenv("WATCHDOG_USEC", "1000000", 1);
	wb_notify_init();
	CHECK(wb_notify_enabled());
	CHECK(wb_notify_watchdog_usec() == 1000000);
	wb_notify_ready("streaming from 0/16B3748:end");
	CHECK_STR(next_msg(), "READY=1\nSTATUS=streaming from 0/16B3748:end");
	CHECK_STR(next_msg(), "");

	/* first tick: a ping and the status */
	st = (struct wb_notify_status){"0/16B3748:end", 0.0, 5};
	wb_notify_tick(&st, 10000);
	CHECK_STR(next_msg(), "WATCHDOG=1");
	CHECK_STR(next_msg(), "STATUS=streaming: checkpoint 0/16B3748:end, "
			      "lag 0.0 s, 5 events");
	CHECK_STR(next_msg(), "");
	/* 499 ms later: neither ping nor status (changed, but < 1 s) */
	st.events = 6;
	wb_notify_tick(&st, 10499);
	CHECK_STR(next_msg(), "");
	/* 500 ms: a ping (half the watchdog interval), still no status */
	wb_notify_tick(&st, 10500);
	CHECK_STR(next_msg(), "WATCHDOG=1");
	CHECK_STR(next_msg(), "");
	/* 1 s: the changed status */
	st.lag_s = 2.345;
	st.position = NULL;
	wb_notify_tick(&st, 11000);
	CHECK_STR(next_msg(), "WATCHDOG=1");
	CHECK_STR(next_msg(),
		  "STATUS=streaming: checkpoint none yet, lag 2.3 s, "
		  "6 events");
	/* 2 s: unchanged, so only the ping */
	wb_notify_tick(&st, 12000);
	CHECK_STR(next_msg(), "WATCHDOG=1");
	CHECK_STR(next_msg(), "");
	/* a negative lag (clock step) reads 0 */
	st.lag_s = -4;
	wb_notify_tick(&st, 13000);
	CHECK_STR(next_msg(), "WATCHDOG=1");
	CHECK_STR(next_msg(),
		  "STATUS=streaming: checkpoint none yet, lag 0.0 s, "
		  "6 events");
	wb_notify_stopping("draining and checkpointing");
	CHECK_STR(next_msg(),
		  "STOPPING=1\nSTATUS=stopping: draining and checkpointing");
	CHECK_STR(next_msg(), "");

	/* wb_notify_alive (a sink waiting for its brokers): a ping when due,
	 * none again within half the interval */
	wb_notify_init();
	wb_notify_alive();
	CHECK_STR(next_msg(), "WATCHDOG=1");
	wb_notify_alive();
	CHECK_STR(next_msg(), "");

	/* WATCHDOG_PID naming another process: no watchdog */
	setenv("WATCHDOG_PID", "1", 1);
	wb_notify_init();
	CHECK(wb_notify_watchdog_usec() == 0);
	wb_notify_tick(&st, 20000);
	CHECK_STR(next_msg(),
		  "STATUS=streaming: checkpoint none yet, lag 0.0 s, "
		  "6 events");
	CHECK_STR(next_msg(), "");

	close(sock);
	unlink(sa.sun_path);
	rmdir(dir);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}
