/* metrics_proc.c — process figures for the process_* metrics, read from
 * /proc/self (Linux). */
#include "metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Boot time (btime in /proc/stat), Unix seconds; 0 when unknown. */
static double boot_time(void)
{
	FILE *f = fopen("/proc/stat", "r");
	if (f == NULL)
		return 0;
	char line[256];
	double bt = 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &bt) == 1)
			break;
	fclose(f);
	return bt;
}

int wb_metrics_proc(struct wb_proc_stats *st)
{
	memset(st, 0, sizeof(*st));
	FILE *f = fopen("/proc/self/stat", "r");
	if (f == NULL)
		return -1;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: fields follow
	 * the last ')' (proc(5): field 3 onwards) */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	unsigned long utime, stime, vsize;
	unsigned long long start;
	long rss, threads;
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d "
		   "%*d %*d %*d %ld %*d %llu %lu %ld",
		   &utime, &stime, &threads, &start, &vsize, &rss) != 6)
		return -1;
	double hz = (double)sysconf(_SC_CLK_TCK);
	if (hz <= 0)
		hz = 100;
	st->cpu_seconds = (double)(utime + stime) / hz;
	st->vsize_bytes = vsize;
	st->rss_bytes = (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
	st->threads = (int)threads;
	st->start_time_s = boot_time() + (double)start / hz;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				st->open_fds++;
		closedir(d);
		st->open_fds--; /* the directory's own descriptor */
	}
	return 0;
}
